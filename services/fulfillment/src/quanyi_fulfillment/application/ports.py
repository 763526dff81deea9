"""What the use cases need from the world, as interfaces; bootstrap picks the concrete adapters.

Each port has a Postgres adapter (or a network client) and an in-memory fake, and one contract suite in
tests/contracts runs against both.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from quanyi_platform.consumer import TransientError
from quanyi_platform.uow import UnitOfWork

from quanyi_fulfillment.domain.aggregate import Delivery
from quanyi_fulfillment.domain.delivery import KeyToSend, RevealedSecret
from quanyi_fulfillment.domain.entitlements import Membership, PlanKey
from quanyi_fulfillment.domain.events import Recorded
from quanyi_fulfillment.domain.kept_channels import KeptDelivery
from quanyi_fulfillment.domain.latency import LatencyStats
from quanyi_fulfillment.domain.mail import MailContent


class InventoryUnavailable(TransientError):
    """Inventory did not answer in time; try again later (the consumer retries its batch)."""


class RevealRefused(Exception):
    """Inventory answered but would not reveal the keys (for example NOT_FOUND); retrying will not help."""


# One order's reveal within a batch: its keys in plaintext, or why not.
RevealOutcome = list[RevealedSecret] | RevealRefused | InventoryUnavailable


class KeyRevealer(Protocol):
    async def reveal_orders(self, orders: Sequence[tuple[str, Sequence[str]]]) -> list[RevealOutcome]:
        """The plaintext of each (order id, key ids) pair's keys, for delivery, in one exchange with
        inventory, which audits every order's reveal. One outcome per pair, in order: the secrets, or
        RevealRefused / InventoryUnavailable for that order alone (as a value, not raised).

        Raises InventoryUnavailable (transient) when inventory could not be asked at all. Never stores or
        logs the result.
        """
        ...


class ContactsUnavailable(TransientError):
    """The gateway did not answer in time; try again later (no attempt is spent)."""


@dataclass(frozen=True)
class Address:
    """Where to write to a buyer, and the delivery targets they keep on other channels (channel, target)."""

    email: str
    targets: tuple[tuple[str, str], ...] = ()

    def target(self, channel: str) -> str | None:
        """Where the buyer keeps `channel`'s deliveries (the address for the e-mail), if anywhere."""
        if channel == "email":
            return self.email
        return next((target for kept, target in self.targets if kept == channel and target), None)


@dataclass(frozen=True)
class NoAddress:
    """Nobody to write to: `reason` says why (no account with an address, or erased); it holds no address."""

    reason: str


Contact = Address | NoAddress


class ContactBook(Protocol):
    async def contacts(self, buyer_ids: Sequence[str]) -> dict[str, Contact]:
        """Where each buyer can be reached, asked of the buyers' owner (the gateway) at the moment of
        writing, in one exchange: every id asked is a key of the answer. Raises ContactsUnavailable
        (transient) when the owner could not be asked. The answer is used and dropped: never stored or
        logged."""
        ...


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the message. `reason` holds no key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(Protocol):
    async def send(self, to: str, content: MailContent) -> None:
        """Hand one message to the mail server; returns once it was accepted, else raises MailNotSent."""
        ...


@dataclass(frozen=True)
class DueEmails:
    """Deliveries whose e-mail is due, claimed for the unit of work, and when the next one falls due."""

    deliveries: list[Delivery]
    # The earliest time after `now` at which another e-mail falls due (a retry, or a lapsed claim of
    # another sender); None when no e-mail is waiting.
    next_due: datetime | None


class DeliveryRepository(Protocol):
    """Deliveries as the projections hold them: the Delivery aggregate's fast path.

    Guarantees: a loaded Delivery equals the fold of its events (the projections are the fold); reads in a
    unit of work see that unit of work's own appends. Nothing here writes: state changes only by events
    (FulfillmentUnitOfWork.record).
    """

    async def get_many(self, order_ids: Collection[str]) -> dict[str, Delivery]:
        """The deliveries of these orders that exist, by order id, in one read."""
        ...

    async def by_key(self, key_id: str) -> Delivery | None:
        """The delivery holding this key, or None."""
        ...

    async def for_buyer(
        self,
        buyer_id: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
        order_ids: Collection[str] | None = None,
    ) -> list[Delivery]:
        """Up to `limit` of a buyer's deliveries (only `order_ids`' when given), each whole, newest delivered
        first: keyset on (delivered_at, order_id), descending, after the position `after` when given."""
        ...

    async def order_events(self, order_ids: Collection[str]) -> list[Recorded]:
        """Every event recorded for these orders (correlated with one: its delivery, its channel
        requests), in the order they were recorded. A read of the record itself, for history."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> DueEmails:
        """Up to `limit` deliveries whose e-mail is due by `now` (pending, or sending with a lapsed lease),
        oldest due first. They are held until the unit of work ends: a concurrent claim skips them rather
        than waiting, so two senders never claim one e-mail at once."""
        ...


@dataclass(frozen=True)
class DueKept:
    """Deliveries on kept channels that are due, claimed for the unit of work, and when the next falls due."""

    deliveries: list[KeptDelivery]
    next_due: datetime | None


class KeptChannelRepository(Protocol):
    """The kept-channel queue as its projection holds it (domain.kept_channels: a loaded KeptDelivery
    equals the fold of its stream). Nothing here writes."""

    async def claim_due(self, now: datetime, limit: int) -> DueKept:
        """Up to `limit` deliveries due by `now` (requested, or claimed with a lapsed lease), oldest due
        first, held until the unit of work ends: a concurrent claim skips them rather than waiting."""
        ...

    async def get_many(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], KeptDelivery]:
        """The deliveries in hand of these (order id, channel) pairs, in one read."""
        ...


@dataclass(frozen=True)
class PointsCredit:
    """A PointsCredited as the user centre shows it."""

    order_id: str
    line_no: int
    unit_no: int
    points: int
    credited_at: datetime
    # When the order's refund took the points back (PointsDebited); None while they are held.
    debited_at: datetime | None = None


@dataclass(frozen=True)
class MembershipGrant:
    """A MembershipGranted as the user centre shows it."""

    order_id: str
    line_no: int
    unit_no: int
    plan: str
    days: int
    valid_from: datetime
    valid_until: datetime
    # When the order's refund took the grant's days back (MembershipShortened); None while it holds.
    shortened_at: datetime | None = None


@dataclass(frozen=True)
class BuyerEntitlements:
    """A buyer's points balance and memberships (by plan), with the credits and grants (oldest first); the
    balance is net of refunds' debits, and may be negative when refunded points had been spent."""

    points_balance: int
    credits: list[PointsCredit]
    memberships: list[Membership]
    grants: list[MembershipGrant]


class EntitlementRepository(Protocol):
    """Bundles' points and memberships as their projections hold them (a loaded Membership equals the
    fold of its stream: domain.entitlements). Nothing here writes."""

    async def memberships(self, keys: Collection[PlanKey]) -> dict[PlanKey, Membership]:
        """The current membership of each (buyer, plan) that has one, in one read."""
        ...

    async def granted_orders(self, order_ids: Collection[str]) -> set[str]:
        """Those of `order_ids` whose points or memberships were granted."""
        ...

    async def for_buyer(self, buyer_id: str) -> BuyerEntitlements:
        """The buyer's points balance, memberships, credits and grants."""
        ...


class LatencyRepository(Protocol):
    """Delivered orders' latencies as projection `delivery_latency` holds them (domain.latency.of of each
    KeyDelivered). Nothing here writes."""

    async def stats(self, start: datetime, end: datetime, bucket: str) -> list[LatencyStats]:
        """The latency percentiles of the orders delivered from `start` to before `end`, per hour or
        day of delivery (UTC), oldest first; buckets without orders are left out (domain.latency.stats)."""
        ...


class FulfillmentUnitOfWork(UnitOfWork):
    """One transaction over fulfillment's event store and its projections."""

    deliveries: DeliveryRepository
    kept: KeptChannelRepository
    entitlements: EntitlementRepository
    latency: LatencyRepository

    @abstractmethod
    async def record(self, records: Sequence[Recorded]) -> None:
        """Append `records` in order; the projections follow in this unit of work.

        Raises ConcurrencyConflict when a (stream, id, version) is taken and KeyAlreadyDelivered when a
        delivered key is already another order's; either way nothing of the unit of work is kept.
        """


UnitOfWorkFactory = Callable[[], FulfillmentUnitOfWork]


@dataclass(frozen=True)
class ChannelAttempt:
    """How a channel's delivery ended after its own retries: `failure` is None when it delivered, else why
    not (never the target nor a key)."""

    attempts: int
    failure: str | None = None


class ChannelSender(Protocol):
    """An on-demand channel (webhook, SMS, partner top-up): delivers an order's keys to `target`, retrying
    passing failures itself. `target` is personal data: used for this call only, never kept or logged."""

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        ...


@dataclass(frozen=True)
class ReportedRedemption:
    """A key the partner's feed says was used (its id, as quanyi sent it with the top-up)."""

    key_id: str
    redeemed_at: str  # RFC 3339, or empty (now)


@dataclass(frozen=True)
class FeedPage:
    items: list[ReportedRedemption]
    next_cursor: str


class FeedUnavailable(TransientError):
    """The partner's feed could not be read now; the next poll tries again from the same cursor."""


class RedemptionFeed(Protocol):
    async def since(self, cursor: str) -> FeedPage:
        """The redemptions after `cursor` (empty: from the start). Raises FeedUnavailable."""
        ...
