"""Orders' use cases. Each takes a connection already in a transaction and the event store; the caller
commits. Commands lock the order's row while they decide, so concurrent commands on one order serialise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.envelope import new_event_id
from quanyi_platform.eventstore import EventStore

from quanyi_orders.adapters import order_repository as orders
from quanyi_orders.application.errors import NoticeReplayed, OrderNotFound, PaymentBelongsToAnotherOrder
from quanyi_orders.domain.errors import InvalidOrder
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, RiskDecision

MAX_LIST_LIMIT = 200
DEFAULT_LIST_LIMIT = 50


@dataclass(frozen=True)
class PlaceOrder:
    buyer_id: str
    buyer_email: str
    channel: str
    lines: Sequence[tuple[str, int, Money]]
    idempotency_key: str


@dataclass(frozen=True)
class Placed:
    order: Order
    replayed: bool


@dataclass(frozen=True)
class Captured:
    order: Order
    duplicate: bool


async def place_order(conn: AsyncConnection[Any], store: EventStore, cmd: PlaceOrder) -> Placed:
    """Place an order once per (buyer, idempotency key): the hot path, one INSERT and one append.

    A key used before returns the order it created, whatever the new request says.
    """
    try:
        order = Order.place(
            order_id=new_event_id(),
            buyer_id=cmd.buyer_id,
            buyer_email=cmd.buyer_email,
            channel=cmd.channel,
            lines=cmd.lines,
            placed_at=datetime.now(UTC),
        )
    except InvalidOrder:
        existing = await orders.get_by_idempotency_key(conn, cmd.buyer_id, cmd.idempotency_key)
        if existing is None:
            raise
        return Placed(existing, replayed=True)
    if await orders.insert_new(conn, store, order, cmd.idempotency_key):
        return Placed(order, replayed=False)
    existing = await orders.get_by_idempotency_key(conn, cmd.buyer_id, cmd.idempotency_key)
    assert existing is not None, "the conflicting row is committed before ON CONFLICT sees it"
    return Placed(existing, replayed=True)


async def get_order(conn: AsyncConnection[Any], order_id: str) -> Order:
    order = await orders.get(conn, order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def list_orders(conn: AsyncConnection[Any], buyer_id: str, limit: int) -> list[Order]:
    """A buyer's orders, newest first; a limit of 0 means the default, and it never exceeds the maximum."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    return await orders.list_for_buyer(conn, buyer_id, limit)


async def _load_for_update(conn: AsyncConnection[Any], order_id: str) -> Order:
    order = await orders.get(conn, order_id, for_update=True)
    if order is None:
        raise OrderNotFound(order_id)
    return order


async def capture_notified_payment(
    conn: AsyncConnection[Any],
    store: EventStore,
    *,
    provider: str,
    nonce: str,
    order_id: str,
    txn_id: str,
    amount: Money,
) -> Captured:
    """Apply an authenticated payment notice: the nonce, the payment and the order's events commit together.

    Nothing is written when the order refuses the payment (wrong amount) or the nonce was seen before.
    A new notice about an already captured transaction is accepted as a duplicate and changes nothing else.
    """
    order = await _load_for_update(conn, order_id)
    captured = order.capture_payment(amount, provider, txn_id)  # raises before anything is written
    if not await orders.remember_notice(conn, provider, nonce):
        raise NoticeReplayed()
    if not captured:
        return Captured(order, duplicate=True)
    if not await orders.record_payment(conn, provider, txn_id, order_id, amount):
        raise PaymentBelongsToAnotherOrder()
    await orders.save(conn, store, order)
    return Captured(order, duplicate=False)


async def review_order(conn: AsyncConnection[Any], store: EventStore, order_id: str, approve: bool) -> Order:
    """A reviewer releases or rejects an order held by risk."""
    order = await _load_for_update(conn, order_id)
    order.review(approve)
    await orders.save(conn, store, order)
    return order


async def record_risk_decision(
    conn: AsyncConnection[Any],
    store: EventStore,
    order_id: str,
    decision: RiskDecision,
    reasons: Sequence[str],
    causation_id: str,
) -> Order:
    order = await _load_for_update(conn, order_id)
    order.record_risk(decision, reasons)
    await orders.save(conn, store, order, causation_id)
    return order


async def record_stock_short(
    conn: AsyncConnection[Any], store: EventStore, order_id: str, causation_id: str
) -> Order:
    """Inventory could not supply a released order: record OrderRefunded.

    The refund is recorded as a fact (the money is owed back) for the ledger; asking the payment provider
    to move the money back is not part of this service yet.
    """
    order = await _load_for_update(conn, order_id)
    order.stock_short()
    await orders.save(conn, store, order, causation_id)
    return order


async def record_delivery(
    conn: AsyncConnection[Any], store: EventStore, order_id: str, causation_id: str
) -> Order:
    order = await _load_for_update(conn, order_id)
    order.delivered()
    await orders.save(conn, store, order, causation_id)
    return order
