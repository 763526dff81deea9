"""Fulfillment's event handlers: translate events into application calls, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.consumer import Handler, ReceivedEvent
from quanyi_platform.eventstore import EventStore

from quanyi_fulfillment.adapters import mappers
from quanyi_fulfillment.application.deliver import deliver_reservation


def handlers(store: EventStore) -> dict[str, Handler]:
    async def on_key_reserved(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        reserved: inventory_events.KeyReserved = ev.payload
        await deliver_reservation(
            conn,
            store,
            mappers.reservation(reserved),
            correlation_id=ev.correlation_id or reserved.order_id,
            causation_id=ev.event_id,
            now=datetime.now(UTC),
        )

    return {inventory_events.KeyReserved.DESCRIPTOR.full_name: on_key_reserved}
