"""Replay against real Postgres and the real broker: rebuild, verify, swap while events flow (I6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore
from quanyi_platform.relay import Relay
from quanyi_platform.replay import (
    ServiceProjections,
    digest_of,
    drop_shadow,
    rebuild,
    seq_ranges,
    swap,
    verify,
)
from quanyi_platform.testing.toy.projections import PROJECTIONS

SPEC = ServiceProjections("toy", PROJECTIONS, ("quanyi_platform.testing.toy.migrations",))
REASONS = ["expired", "buyer", "risk", "stock", "duplicate"]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, "toy", list(SPEC.migrations))
    p = await db.create_pool(database_url, "toy")
    yield p
    await p.close()


def cancelled(n: int) -> NewEvent:
    oid = f"o-{n}"
    return NewEvent("Order", oid, 1, orders_events.OrderCancelled(order_id=oid, reason=REASONS[n % 5]))


async def append_range(pool: AsyncConnectionPool, store: EventStore, start: int, stop: int, per_tx: int) -> None:
    for first in range(start, stop, per_tx):
        async with pool.connection() as conn, conn.transaction():
            await store.append(conn, [cancelled(n) for n in range(first, min(first + per_tx, stop))])


async def rows(pool: AsyncConnectionPool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT reason, n FROM cancellations")
        return {r["reason"]: r["n"] for r in await cur.fetchall()}


async def test_a_projection_rebuilt_from_the_store_equals_live_and_twice_gives_the_same_digest(
    pool: AsyncConnectionPool, database_url: str
) -> None:
    store = EventStore("toy", projections=PROJECTIONS)
    await append_range(pool, store, 0, 2_000, 7)
    seen: list[tuple[int, int]] = []
    first = await rebuild(database_url, SPEC, batch_size=300, progress=lambda d, t: seen.append((d, t)))
    one = await verify(database_url, first)
    second = await rebuild(database_url, SPEC, batch_size=1_000)
    two = await verify(database_url, second)
    await drop_shadow(database_url, SPEC)
    assert first.events == 2_000 and one.equal and two.equal, one.describe()
    assert digest_of(one) == digest_of(two)
    assert seen[-1] == (2_000, 2_000)
    assert sum((await rows(pool)).values()) == 2_000


async def test_verify_names_the_rows_that_differ_and_swap_repairs_live(
    pool: AsyncConnectionPool, database_url: str
) -> None:
    store = EventStore("toy", projections=PROJECTIONS)
    await append_range(pool, store, 0, 100, 10)
    async with pool.connection() as conn:
        # Someone wrote a projection table behind its projector's back.
        await conn.execute("UPDATE cancellations SET n = 999 WHERE reason = 'risk'")
        await conn.execute("INSERT INTO notes VALUES ('kept')")
        await conn.commit()
    rebuilt = await rebuild(database_url, SPEC)
    report = await verify(database_url, rebuilt)
    assert not report.equal
    table = report.tables[0]
    assert any("999" in r for r in table.only_live) and any(",20," in r for r in table.only_shadow)
    swapped = await swap(database_url, rebuilt)
    await drop_shadow(database_url, SPEC)
    assert swapped.equal
    assert (await rows(pool))["risk"] == 20
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM notes")
        assert (await cur.fetchone())["n"] == 1  # not a projection: untouched


async def test_a_swap_while_events_flow_loses_and_repeats_nothing(
    pool: AsyncConnectionPool, database_url: str
) -> None:
    store = EventStore("toy", projections=PROJECTIONS)
    await append_range(pool, store, 0, 3_000, 50)
    stop = asyncio.Event()
    written = 3_000

    async def writer(offset: int) -> None:
        nonlocal written
        n = offset
        while not stop.is_set():
            await append_range(pool, store, n, n + 3, 3)
            n += 3
            written += 3
            await asyncio.sleep(0)

    writers = [asyncio.create_task(writer(1_000_000 * (k + 1))) for k in range(3)]
    try:
        rebuilt = await rebuild(database_url, SPEC, batch_size=500)
        checked = await verify(database_url, rebuilt)  # as `quanyi replay --verify --swap` does
        swapped = await swap(database_url, rebuilt)
        after_swap = written
        await asyncio.sleep(0.3)  # appends carry on after the swap
    finally:
        stop.set()
        await asyncio.gather(*writers)
    await drop_shadow(database_url, SPEC)
    assert checked.equal and swapped.equal
    assert written > after_swap
    assert sum((await rows(pool)).values()) == written
    final = await verify(database_url, await rebuild(database_url, SPEC))
    await drop_shadow(database_url, SPEC)
    assert final.equal, final.describe()


async def test_a_projection_rebuilt_from_the_topic_equals_the_one_rebuilt_from_the_store(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    store = EventStore("toy", projections=PROJECTIONS)
    await append_range(pool, store, 0, 500, 9)
    settings = PlatformSettings(database_url=database_url, kafka_bootstrap=broker.bootstrap)
    relay = asyncio.create_task(Relay(pool, settings, store.topic).run())
    try:
        from_topic = await rebuild(database_url, SPEC, source="topic", kafka_bootstrap=broker.bootstrap)
        topic_report = await verify(database_url, from_topic)
        from_store = await verify(database_url, await rebuild(database_url, SPEC))
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await drop_shadow(database_url, SPEC)
    assert from_topic.events == 500
    assert topic_report.equal, topic_report.describe()
    assert digest_of(topic_report) == digest_of(from_store)


def test_the_seqs_a_topic_lacks_are_named_as_ranges() -> None:
    assert seq_ranges([3]) == "missing seq 3"
    assert seq_ranges([3, 7, 8, 9, 12]) == "missing seq 3, 7-9, 12"
    assert seq_ranges(list(range(1, 40, 2)), most=2) == "missing seq 1, 3 and 18 more ranges"
