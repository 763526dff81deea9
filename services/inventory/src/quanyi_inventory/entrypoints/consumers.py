"""Inventory's consumers: a batch of OrderPaid becomes one allocation, in the batch's transaction, and the
orders' refunds (RefundRequested) and fulfillment's deliveries and redemptions (KeyDelivered, Redeemed)
move the keys the orders hold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent, TransientError
from quanyi_platform.envelope import datetime_of
from quanyi_platform.eventstore import EventStore

from quanyi_inventory.adapters.mappers import from_timestamp
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application.alerts import AlertChannel, AlertFailed, StockAlert, tell_operator
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.key_life import change_held_keys
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder
from quanyi_inventory.domain.key_life import Command, Deliver, Redeem, RefundUnits, SettleRefund

ORDER_PAID = orders_events.OrderPaid.DESCRIPTOR.full_name
REFUND_REQUESTED = orders_events.RefundRequested.DESCRIPTOR.full_name
KEY_DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name
REDEEMED = fulfillment_events.Redeemed.DESCRIPTOR.full_name


def paid_order(ev: ReceivedEvent) -> tuple[PaidOrder, Context]:
    """The command an OrderPaid asks for, and the ids the events it causes carry."""
    paid: orders_events.OrderPaid = ev.payload
    order = PaidOrder(
        order_id=paid.order_id,
        buyer_id=paid.buyer_id,
        buyer_email=paid.buyer_email,
        channel=paid.channel,
        lines=tuple(OrderLine(line.line_no, line.sku_id, line.quantity) for line in paid.lines),
        paid_at=from_timestamp(ev.envelope, "occurred_at"),
    )
    return order, Context(ev.correlation_id or paid.order_id, ev.event_id)


def refund(ev: ReceivedEvent) -> tuple[Command, Context] | None:
    """The keys a RefundRequested takes back: its lines' units that had keys (released, voided or
    redeemed, as orders counted them); None for a refund that names no key (a refused payment's, a
    shortage's, a rejected review's)."""
    r: orders_events.RefundRequested = ev.payload
    lines = tuple(
        RefundUnits(ln.line_no, ln.sku_id, ln.released + ln.voided + ln.redeemed)
        for ln in r.lines
        if ln.released + ln.voided + ln.redeemed > 0
    )
    if not lines:
        return None
    command = SettleRefund(r.order_id, r.refund_id, lines, r.actor, r.override_redeemed, r.note, ev.event_id)
    return command, Context(ev.correlation_id or r.order_id, ev.event_id)


def fulfillment_report(ev: ReceivedEvent) -> tuple[Command, Context]:
    """The change a KeyDelivered or Redeemed of fulfillment reports."""
    p = ev.payload
    context = Context(ev.correlation_id or p.order_id, ev.event_id)
    if isinstance(p, fulfillment_events.KeyDelivered):
        return Deliver(p.order_id, tuple(k.key_id for k in p.keys), ev.event_id), context
    redeemed: fulfillment_events.Redeemed = p
    at = None
    if redeemed.redeemed_at:
        try:
            at = datetime.fromisoformat(redeemed.redeemed_at)
        except ValueError:
            at = None  # the partner's time is informative only; the event's own time stands
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    return Redeem(redeemed.order_id, redeemed.key_id, redeemed.partner, at, ev.event_id), context


def order_paid_handler(store: EventStore) -> BatchHandler:
    """OrderPaid and RefundRequested, a batch at a time in the batch's transaction: the paid orders are
    allocated first, then the refunds take back their keys (a refund of a released order always follows
    its OrderPaid on the order's partition). When another consumer decided one of the batch's orders
    meanwhile (an OrderPaid delivered twice under two event ids), the append raises ConcurrencyConflict,
    which the consumer treats as passing: the batch is retried and then finds that decision."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        paid = [paid_order(e) for e in events if e.envelope.type == ORDER_PAID]
        if paid:
            await allocate_paid_orders(PgInventoryUnitOfWork(store, conn=conn), paid)
        refunds = [c for c in (refund(e) for e in events if e.envelope.type == REFUND_REQUESTED) if c]
        if refunds:
            await change_held_keys(PgInventoryUnitOfWork(store, conn=conn), refunds)

    return BatchHandler(frozenset({ORDER_PAID, REFUND_REQUESTED}), apply)


def fulfillment_handler(store: EventStore) -> BatchHandler:
    """Fulfillment's KeyDelivered and Redeemed, a batch at a time: the keys move reserved -> delivered ->
    redeemed (KeysDelivered, KeysRedeemed) in one unit of work in the batch's transaction."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        reports = [fulfillment_report(e) for e in events]
        await change_held_keys(PgInventoryUnitOfWork(store, conn=conn), reports)

    return BatchHandler(frozenset({KEY_DELIVERED, REDEEMED}), apply)


STOCK_LOW = inventory_events.StockLow.DESCRIPTOR.full_name


def stock_low_handler(channels: Sequence[AlertChannel]) -> BatchHandler:
    """Inventory's own StockLow events, told to the operator on every channel. A channel that fails makes
    the batch retry later (TransientError); the inbox keeps an alert from being sent again once its batch
    has gone through."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        alerts = [
            StockAlert(e.event_id, e.payload.sku_id, int(e.payload.available), int(e.payload.threshold),
                       datetime_of(e.envelope.occurred_at))
            for e in events
        ]
        try:
            await tell_operator(channels, alerts)
        except AlertFailed as exc:
            raise TransientError(str(exc)) from exc

    return BatchHandler(frozenset({STOCK_LOW}), apply)
