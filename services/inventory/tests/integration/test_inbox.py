"""OrderPaid through the platform's inbox consumer (no broker needed: records are handed to apply)."""

from __future__ import annotations

from typing import Any

from aiokafka.structs import ConsumerRecord
from psycopg_pool import AsyncConnectionPool
from quanyi_inventory.config import Settings
from quanyi_inventory.entrypoints.consumers import order_paid_handler
from quanyi_platform.consumer import InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import kafka_headers, open_envelope
from quanyi_platform.eventstore import EventStore, topic_for


def record(event: ReceivedEvent, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = event.envelope.SerializeToString()
    headers = [(k, v) for k, v in kafka_headers(event.envelope)]
    return ConsumerRecord(topic_for("orders"), 0, offset, 0, 0, None, value, None, 0, len(value), headers)


async def test_a_redelivered_order_paid_reserves_keys_once(
    settings: Settings, pool: AsyncConnectionPool, store: EventStore, stock_sku: Any, paid: Any
) -> None:
    sku = await stock_sku(["IN-1", "IN-2", "IN-3"])
    consumer = InboxConsumer("inventory", [topic_for("orders")], order_paid_handler(store), pool, settings)
    event = paid("order-1", [(sku, 1)])
    assert await consumer.apply([record(event, 1), record(event, 2)]) == 1
    assert await consumer.apply([record(event, 3)]) == 0

    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope FROM events WHERE event_type LIKE '%%KeyReserved'")
        reserved = [open_envelope(bytes(r["envelope"]))[1] for r in await cur.fetchall()]
        cur = await conn.execute("SELECT count(*) AS n FROM keys WHERE state = 'reserved'")
        held: Any = await cur.fetchone()
    assert len(reserved) == 1 and held["n"] == 1
