"""Migration 002: a store the old relay had marked (events.published_at) becomes one whose relay starts
from a saved floor: just below the first event the old relay had not marked, so nothing unmarked is lost."""

from __future__ import annotations

import asyncio
import importlib.resources
import uuid
from typing import Any

from psycopg import AsyncConnection, sql
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import seal
from quanyi_platform.kafka import BrokerEpoch, ensure_topics
from quanyi_platform.relay import Relay

from .test_event_core import placed, read_topic, settings_for, wait_until

SCHEMA = "relay_floor_migration"
FIRST = "quanyi_platform.migrations:001_platform.sql"


async def test_the_floor_starts_below_the_first_event_the_old_relay_had_not_marked(
    database_url: str, broker: Any
) -> None:
    topic = f"core.migrated.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic])
    first = importlib.resources.files("quanyi_platform.migrations").joinpath("001_platform.sql").read_text()
    marked = {1, 2, 3, 5}  # as the old relay left them: 4 and 6 were still to be sent
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))
        await conn.execute(first.encode())
        await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL"
                           " DEFAULT now())")
        await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (FIRST,))
        for i in range(1, 7):
            env = seal(placed(f"o-old{i}"), "core")
            await conn.execute(
                "INSERT INTO events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
                " topic, envelope, occurred_at, published_at)"
                " VALUES (%s, 'Order', %s, 1, 'OrderPlaced', %s, %s, now(), CASE WHEN %s THEN now() END)",
                (env.event_id, f"o-old{i}", topic, env.SerializeToString(), i in marked),
            )
        await conn.execute("INSERT INTO relay_state (topic, broker_epoch) VALUES (%s, 'old')", (topic,))

    assert await db.migrate(database_url, SCHEMA, []) == ["quanyi_platform.migrations:002_relay_floor.sql"]
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))
        cur = await conn.execute("SELECT published_through FROM relay_state")
        assert await cur.fetchone() == (3,)
        cur = await conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND table_name = 'events'"
            " AND column_name = 'published_at'", (SCHEMA,),
        )
        assert await cur.fetchone() == (0,)

    # The relay, on the broker it already published to (the epoch it recorded), starts from that floor.
    pool = await db.create_pool(database_url, SCHEMA)
    try:
        relay = Relay(pool, settings, topic)
        async with pool.connection() as conn:
            await conn.execute("UPDATE relay_state SET broker_epoch = %s", (await _epoch(settings),))
        task = asyncio.create_task(relay.run())
        try:
            await wait_until(lambda: _published(relay, 3), timeout=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await pool.close()
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCHEMA)))
    assert relay.published == 3  # 4, 5 and 6: 5 again, which consumers take once
    sent = await read_topic(broker.bootstrap, topic, expect=3)
    assert len(sent) == 3


async def _epoch(settings: PlatformSettings) -> str:
    reader = BrokerEpoch(settings)
    try:
        epoch = await reader.read_or_create()
    finally:
        await reader.close()
    assert epoch is not None
    return epoch


async def _published(relay: Relay, n: int) -> bool:
    return relay.published >= n
