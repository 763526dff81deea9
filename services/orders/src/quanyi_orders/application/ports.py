"""The ports orders' application talks to, and its Unit of Work.

Each port has a Postgres adapter (`quanyi_orders.adapters.postgres`) and an in-memory fake
(`quanyi_orders.adapters.memory`); one contract suite (`tests/contracts`) holds both to the guarantees
stated here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.uow import UnitOfWork

from quanyi_orders.domain.coupon import Coupon, Usage
from quanyi_orders.domain.holds import Holds
from quanyi_orders.domain.order import Order
from quanyi_orders.domain.queue import REDEEMED_AFTER_REFUND_SOURCE
from quanyi_orders.domain.refund import Refund


class IdempotencyKeyUsed(Exception):
    """The buyer already placed an order with this idempotency key; nothing of the unit of work is kept.

    Raised by `events.append` or by `commit` (whichever first learns of it) for an OrderPlaced whose
    (buyer, idempotency key) names a committed order.
    """

    def __init__(self) -> None:
        super().__init__("the idempotency key names another order")


@dataclass(frozen=True)
class NoticeFacts:
    """What is recorded about a payment notice's nonce and its provider transaction."""

    #: The provider already sent a notice with this nonce.
    nonce_seen: bool
    #: The order the provider's transaction was captured for, if it was.
    txn_order_id: str | None


class OrderRepository(ABC):
    """Orders' current state: the `orders` projection (the fold of each order's events)."""

    @abstractmethod
    async def get(self, order_id: str) -> Order | None:
        """The order, or None."""

    @abstractmethod
    async def get_many_for_update(self, order_ids: Sequence[str]) -> dict[str, Order]:
        """The orders of `order_ids` that exist, in one read, locked until the unit of work ends.

        Guarantee: no other unit of work locks or appends to them meanwhile, so what is decided from
        them holds at commit. Locks are taken in one fixed order, so two units never wait in a cycle.
        """

    @abstractmethod
    async def get_for_payment_notice(
        self, order_id: str, provider: str, nonce: str, txn_id: str
    ) -> tuple[Order | None, NoticeFacts]:
        """The order, locked as by `get_many_for_update`, with what is recorded about the notice's nonce
        and transaction, in one read."""

    @abstractmethod
    async def get_for_payment_notices(
        self, notices: Sequence[tuple[str, str, str, str]]
    ) -> tuple[dict[str, Order], list[NoticeFacts]]:
        """For notices given as (order id, provider, nonce, transaction id), in one read: their orders that
        exist, locked as by `get_many_for_update`, and per notice (in the order given) what is recorded
        about its nonce and its transaction."""

    @abstractmethod
    async def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        """The order the buyer placed with `key`, or None."""

    @abstractmethod
    async def by_idempotency_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Order]:
        """The orders placed with these (buyer, key) pairs, by pair, in one read; pairs without one are left
        out."""

    @abstractmethod
    async def list_for_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[Order]:
        """At most `limit` of the buyer's orders, newest first (then by order id, descending), placed before
        `before` (placed_at, order_id) when given."""

    @abstractmethod
    async def history(self, order_id: str) -> list[HistoryEvent]:
        """Every event recorded for the order (its own, its payments' and refunds'), in the order they were
        recorded; empty for an order that does not exist."""

    @abstractmethod
    async def search(
        self, channel: str, status: str, limit: int, before: tuple[datetime, str] | None
    ) -> list[Order]:
        """At most `limit` of every buyer's orders, newest first (then by order id, descending), of the
        channel and in the status (empty: any), placed before `before` (placed_at, order_id) when given."""


@dataclass(frozen=True)
class HistoryEvent:
    """One recorded event of an order, its payload as protobuf's JSON mapping (ids and amounts only)."""

    event_id: str
    type: str
    occurred_at: datetime
    causation_id: str
    payload_json: str


@dataclass(frozen=True)
class QueueEntry:
    """An order in the exception queue. `status` is OPEN, or RESOLVED with `resolution`: the operator's
    "refund" or "resolve", or "delivered"/"refunded" when the order got there since (actor "system")."""

    order_id: str
    reason: str
    source: str
    queued_at: datetime
    status: str
    resolution: str = ""
    actor: str = ""


def queue_entry(
    order_id: str, reason: str, source: str, queued_at: datetime, resolution: str | None, actor: str | None,
    order_status: str | None,
) -> QueueEntry:
    """An entry as shown: an operator's resolution first, else the order's own end (a channel that gave up
    after the order was fulfilled stays open until an operator acts or the order is refunded; a key redeemed
    after its refund stays open until an operator acts, whatever the order's status)."""
    if resolution:
        return QueueEntry(order_id, reason, source, queued_at, "RESOLVED", resolution, actor or "")
    if source == REDEEMED_AFTER_REFUND_SOURCE:
        return QueueEntry(order_id, reason, source, queued_at, "OPEN")
    ended = {"FULFILLED": "delivered", "REFUNDED": "refunded"}.get(order_status or "")
    if source in ("channel", "refund") and ended == "delivered":
        ended = None  # it was fulfilled before the channel gave up, or before inventory refused a refund
    if ended:
        return QueueEntry(order_id, reason, source, queued_at, "RESOLVED", ended, "system")
    return QueueEntry(order_id, reason, source, queued_at, "OPEN")


class SagaRepository(ABC):
    """What the saga's pollers read: due timeouts (`due_events`), refunds (`refunds`), unpaid orders."""

    @abstractmethod
    async def due(self, kind: str, now: datetime, limit: int) -> list[str]:
        """Up to `limit` aggregate ids of `kind` whose due time is at or before `now`, earliest first."""

    @abstractmethod
    async def refunds(self, refund_ids: Sequence[str]) -> dict[str, Refund]:
        """The refunds of `refund_ids` that exist, in one read."""

    @abstractmethod
    async def refunds_of_order(self, order_id: str) -> list[Refund]:
        """Every refund of the order, in the order they were requested."""

    @abstractmethod
    async def refunds_of_orders(self, order_ids: Sequence[str]) -> dict[str, list[Refund]]:
        """Every refund of each of `order_ids` (each listed, [] when none), in the order they were
        requested, in one read."""

    @abstractmethod
    async def queue(
        self, include_resolved: bool, limit: int, order_id: str = "",
        after: tuple[datetime, str] | None = None,
    ) -> list[QueueEntry]:
        """Exception queue entries, oldest first (then by order id; only `order_id`'s when given), queued
        after `after` (queued_at, order_id) when given; open ones only unless `include_resolved`."""

    @abstractmethod
    async def awaiting_payment(self, placed_from: datetime, placed_to: datetime, limit: int) -> list[str]:
        """Up to `limit` orders placed in [placed_from, placed_to] that still await a payment (none captured,
        not cancelled, expired or refunded), oldest first."""


class HoldRepository(ABC):
    """The open stock holds of unpaid orders (the `stock_holds` projection)."""

    @abstractmethod
    async def lock_and_count(
        self, sku_ids: Sequence[str], buyer_ids: Sequence[str], client_tags: Sequence[str]
    ) -> Holds:
        """Units held per SKU of `sku_ids`, and open holds per buyer and per client address given, counted
        after locking each of them until the unit of work ends.

        Guarantee: no other unit of work that locks one of them counts or adds holds of it meanwhile, so a
        placement decided from these counts holds at commit. The locks are taken in one fixed order.
        """


class CouponRepository(ABC):
    """The operator's coupons and the uses orders hold of them (the `coupons` projection)."""

    @abstractmethod
    async def get(self, key: str) -> Coupon | None:
        """The coupon whose case-folded code is `key` (with its version), or None."""

    @abstractmethod
    async def lock_and_count(
        self, keys: Sequence[str], buyer_ids: Sequence[str]
    ) -> dict[str, tuple[Coupon, Usage]]:
        """The coupons of `keys` that exist, each with the uses held of it (in all, and by each buyer of
        `buyer_ids`), counted
        after locking each coupon until the unit of work ends.

        Guarantee: no other unit of work that locks one of them counts or takes uses of it meanwhile, so a
        placement decided from these counts holds at commit (two placements racing for a coupon's last use:
        exactly one gets it). The locks are taken in one fixed order.
        """

    @abstractmethod
    async def list(self, limit: int, after: tuple[datetime, str] | None = None) -> list[tuple[Coupon, int]]:
        """At most `limit` coupons, newest first (then by code key), each with how many orders hold a use of
        it; those after `after` (created_at, code key) in that order when given."""


class StockLevels(ABC):
    """Inventory's available (unclaimed) units per SKU."""

    @abstractmethod
    async def available(self, sku_ids: Sequence[str]) -> dict[str, int]:
        """Each SKU's available units as inventory tells them, possibly a moment old; a SKU inventory
        could not be asked about (down, too slow, unknown) is left out rather than waited for."""


@dataclass(frozen=True)
class ChannelOutcome:
    """How a delivery on a channel ended: `delivered`, after `attempts`, else why not (never a key)."""

    delivered: bool
    attempts: int
    reason: str = ""


class DeliveriesUnavailable(Exception):
    """Fulfillment did not answer in time."""


class Deliveries(ABC):
    """Fulfillment's record of an order's delivered keys, and its channels (its gRPC API)."""

    @abstractmethod
    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        """(SKU, redeemed) of each key delivered for the order. Raises DeliveriesUnavailable when
        fulfillment does not answer."""

    @abstractmethod
    async def deliver(self, order_id: str, channel: str, target: str, requested_by: str) -> ChannelOutcome:
        """Deliver the order's keys on `channel` to `target` now (fulfillment retries passing failures and
        records the outcome). Raises InvalidOrder for a channel or target fulfillment refuses and NotAllowed
        when the order has no keys in the user centre to deliver."""


class OrdersUnitOfWork(UnitOfWork):
    """One transaction over orders' event log and its order repository.

    Appending an OrderPlaced whose buyer and idempotency key are taken raises IdempotencyKeyUsed; a
    PaymentNoticeAccepted of a nonce already accepted, or a PaymentCaptured of a provider transaction
    already captured, raises ConcurrencyConflict (like a second writer of an order's version): the
    unit of work keeps nothing, and a retry sees what the other writer committed.
    """

    orders: OrderRepository
    saga: SagaRepository
    holds: HoldRepository
    coupons: CouponRepository
