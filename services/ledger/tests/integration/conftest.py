"""Ledger integration fixtures: a migrated "ledger" schema in a fresh database, and helpers to feed events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.message import Message
from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.entrypoints.consumers import handlers, write_postings
from quanyi_platform import db
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import Envelope, new_event_id, type_name
from quanyi_platform.eventstore import EventStore


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, "ledger", ["quanyi_ledger.migrations"])
    p = await db.create_pool(database_url, "ledger", 1, 4)
    try:
        yield p
    finally:
        await p.close()


def received(
    payload: Message, order_id: str, *, event_id: str | None = None, topic: str = ""
) -> ReceivedEvent:
    """An event as the InboxConsumer would hand it to a handler."""
    env = Envelope(
        event_id=event_id or new_event_id(),
        type=type_name(payload),
        aggregate_type="Order",
        aggregate_id=order_id,
        aggregate_version=1,
        correlation_id=order_id,
        producer=topic.split(".")[1] if topic else "orders",
        payload=payload.SerializeToString(),
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    return ReceivedEvent(env, payload, topic or "quanyi.orders.v1", 0, 0)


async def deliver(pool: AsyncConnectionPool, *events: ReceivedEvent) -> None:
    """Apply events with the ledger's handlers in one transaction, as one consumer batch does."""
    hs = handlers()
    write = write_postings(EventStore("ledger"))
    async with pool.connection() as conn, conn.transaction():
        deferred = []
        for ev in events:
            ev.deferred.clear()
            await hs[ev.envelope.type](conn, ev)
            deferred.extend(ev.deferred)
        await write(conn, deferred)


async def fetch(pool: AsyncConnectionPool, query: str, *params: Any) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall())
