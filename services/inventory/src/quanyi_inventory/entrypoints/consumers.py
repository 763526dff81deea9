"""Inventory's consumer: a batch of OrderPaid becomes one allocation, in the batch's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from psycopg import AsyncConnection
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent, TransientError
from quanyi_platform.eventstore import EventStore

from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application.alerts import AlertChannel, AlertFailed, StockAlert, tell_operator
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder

ORDER_PAID = orders_events.OrderPaid.DESCRIPTOR.full_name


def paid_order(ev: ReceivedEvent) -> tuple[PaidOrder, Context]:
    """The command an OrderPaid asks for, and the ids the events it causes carry."""
    paid: orders_events.OrderPaid = ev.payload
    order = PaidOrder(
        order_id=paid.order_id,
        buyer_id=paid.buyer_id,
        buyer_email=paid.buyer_email,
        channel=paid.channel,
        lines=tuple(OrderLine(line.line_no, line.sku_id, line.quantity) for line in paid.lines),
    )
    return order, Context(ev.correlation_id or paid.order_id, ev.event_id)


def order_paid_handler(store: EventStore) -> BatchHandler:
    """OrderPaid, a batch at a time. When another consumer decided one of the batch's orders meanwhile
    (an OrderPaid delivered twice under two event ids), the append raises ConcurrencyConflict, which the
    consumer treats as passing: the batch is retried and then finds that decision."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        await allocate_paid_orders(PgInventoryUnitOfWork(store, conn=conn), [paid_order(e) for e in events])

    return BatchHandler(frozenset({ORDER_PAID}), apply)


STOCK_LOW = inventory_events.StockLow.DESCRIPTOR.full_name


def stock_low_handler(channels: Sequence[AlertChannel]) -> BatchHandler:
    """Inventory's own StockLow events, told to the operator on every channel. A channel that fails makes
    the batch retry later (TransientError); the inbox keeps an alert from being sent again once its batch
    has gone through."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        alerts = [
            StockAlert(e.event_id, e.payload.sku_id, int(e.payload.available), int(e.payload.threshold),
                       e.envelope.occurred_at.ToDatetime(tzinfo=UTC))
            for e in events
        ]
        try:
            await tell_operator(channels, alerts)
        except AlertFailed as exc:
            raise TransientError(str(exc)) from exc

    return BatchHandler(frozenset({STOCK_LOW}), apply)
