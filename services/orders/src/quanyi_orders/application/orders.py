"""Orders' use cases over a unit of work: load what the command touches, decide, append, commit.

The entry points hand each call a fresh unit of work (from the pool for gRPC, bound to the inbox
transaction for the consumer); nothing here knows which database, if any, is behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from quanyi_platform.envelope import new_event_id
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_orders.adapters.proto_mapping import notice_new_event, order_new_events
from quanyi_orders.application.errors import NoticeReplayed, OrderNotFound, PaymentBelongsToAnotherOrder
from quanyi_orders.application.ports import IdempotencyKeyUsed, OrdersUnitOfWork
from quanyi_orders.domain.errors import InvalidOrder
from quanyi_orders.domain.events import PaymentNoticeAccepted
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import CapturePayment, Order, Place, Review, decide, execute, fold

MAX_LIST_LIMIT = 200
DEFAULT_LIST_LIMIT = 50
ATTEMPTS = 5

T = TypeVar("T")


@dataclass(frozen=True)
class PlaceOrder:
    buyer_id: str
    buyer_email: str
    channel: str
    lines: Sequence[tuple[str, int, Money]]
    idempotency_key: str


@dataclass(frozen=True)
class PaymentNotice:
    """An authenticated notice from the provider: it captured `amount` for the order in `txn_id`."""

    provider: str
    nonce: str
    notice_id: str
    order_id: str
    txn_id: str
    amount: Money


@dataclass(frozen=True)
class Placed:
    order: Order
    replayed: bool


@dataclass(frozen=True)
class Captured:
    order: Order
    duplicate: bool


async def _retrying(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` again from the start when another writer got to an aggregate first."""
    for attempt in range(ATTEMPTS):
        try:
            return await work()
        except ConcurrencyConflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def place_order(
    uow: OrdersUnitOfWork, cmd: PlaceOrder, *, now: datetime | None = None, order_id: str | None = None
) -> Placed:
    """Place an order once per (buyer, idempotency key): the hot path, one append and nothing read.

    A key used before returns the order it created, whatever the new request says.
    """
    placed_at = now or datetime.now(UTC)
    try:
        order, events = execute(None, Place(
            order_id or new_event_id(), cmd.buyer_id, cmd.buyer_email, cmd.channel, cmd.lines,
            cmd.idempotency_key, placed_at,
        ))
    except InvalidOrder:
        existing = await _by_key(uow, cmd)
        if existing is None:
            raise
        return Placed(existing, replayed=True)
    assert order is not None
    try:
        async with uow:
            await uow.events.append(order_new_events(order.order_id, 0, events, occurred_at=placed_at))
            await uow.commit()
        return Placed(order, replayed=False)
    except IdempotencyKeyUsed:
        pass
    existing = await _by_key(uow, cmd)
    assert existing is not None, "the order that took the key committed before the key was refused"
    return Placed(existing, replayed=True)


async def _by_key(uow: OrdersUnitOfWork, cmd: PlaceOrder) -> Order | None:
    async with uow:
        return await uow.orders.by_idempotency_key(cmd.buyer_id, cmd.idempotency_key)


async def get_order(uow: OrdersUnitOfWork, order_id: str) -> Order:
    async with uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def list_orders(uow: OrdersUnitOfWork, buyer_id: str, limit: int) -> list[Order]:
    """A buyer's orders, newest first; a limit of 0 means the default, and it never exceeds the maximum."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    async with uow:
        return await uow.orders.list_for_buyer(buyer_id, limit)


async def capture_notified_payment(uow: OrdersUnitOfWork, notice: PaymentNotice) -> Captured:
    """Apply an authenticated payment notice: the notice, the payment and the order's events in one append.

    Nothing is recorded when the order refuses the payment (wrong amount, wrong state), the nonce was
    accepted before, or the transaction paid another order. A new notice about a transaction already
    captured for this order is accepted as a duplicate and records only the notice.
    """

    async def attempt() -> Captured:
        async with uow:
            order, facts = await uow.orders.get_for_payment_notice(
                notice.order_id, notice.provider, notice.nonce, notice.txn_id
            )
            if order is None:
                raise OrderNotFound(notice.order_id)
            events = decide(order, CapturePayment(notice.amount, notice.provider, notice.txn_id))
            if facts.nonce_seen:
                raise NoticeReplayed()
            if events and facts.txn_order_id is not None:
                raise PaymentBelongsToAnotherOrder()
            accepted = PaymentNoticeAccepted(
                notice.provider, notice.nonce, order.order_id, notice.txn_id, notice.notice_id
            )
            await uow.events.append(
                [notice_new_event(accepted), *order_new_events(order.order_id, order.version, events)]
            )
            await uow.commit()
        after = fold(events, order)
        assert after is not None
        return Captured(after, duplicate=not events)

    return await _retrying(attempt)


async def review_order(uow: OrdersUnitOfWork, order_id: str, approve: bool) -> Order:
    """A reviewer releases or rejects an order held by risk."""

    async def attempt() -> Order:
        async with uow:
            order = (await uow.orders.get_many_for_update([order_id])).get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            after, events = execute(order, Review(approve))
            await uow.events.append(order_new_events(order_id, order.version, events))
            await uow.commit()
        assert after is not None
        return after

    return await _retrying(attempt)
