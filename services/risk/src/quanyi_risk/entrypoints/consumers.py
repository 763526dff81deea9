"""Risk's event handlers: translate events into application calls, nothing more."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from psycopg import AsyncConnection
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import Handler, ReceivedEvent
from quanyi_platform.eventstore import EventStore

from quanyi_risk.application.assess import assess_placed_order
from quanyi_risk.domain.velocity import VelocityRule


def handlers(store: EventStore, rule: VelocityRule) -> dict[str, Handler]:
    async def on_order_placed(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        placed: orders_events.OrderPlaced = ev.payload
        await assess_placed_order(
            conn,
            store,
            rule,
            order_id=placed.order_id,
            buyer_id=placed.buyer_id,
            placed_at=ev.envelope.occurred_at.ToDatetime(tzinfo=UTC),
            correlation_id=ev.correlation_id or placed.order_id,
            causation_id=ev.event_id,
        )

    return {orders_events.OrderPlaced.DESCRIPTOR.full_name: on_order_placed}
