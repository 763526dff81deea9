"""Inventory's event handlers: translate events into application calls, nothing more."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import Handler, ReceivedEvent
from quanyi_platform.eventstore import EventStore

from quanyi_inventory.application.allocate import PaidOrder, allocate_paid_order
from quanyi_inventory.domain.allocation import OrderLine


def handlers(store: EventStore) -> dict[str, Handler]:
    async def on_order_paid(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        paid: orders_events.OrderPaid = ev.payload
        await allocate_paid_order(
            conn,
            store,
            PaidOrder(
                order_id=paid.order_id,
                buyer_id=paid.buyer_id,
                buyer_email=paid.buyer_email,
                channel=paid.channel,
                lines=tuple(OrderLine(line.line_no, line.sku_id, line.quantity) for line in paid.lines),
            ),
            correlation_id=ev.correlation_id or paid.order_id,
            causation_id=ev.event_id,
        )

    return {orders_events.OrderPaid.DESCRIPTOR.full_name: on_order_paid}
