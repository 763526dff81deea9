"""Batched consumers against the real broker and Postgres: one unit of work per batch, poison isolated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import BatchHandler, InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import NewEvent, kafka_headers, seal
from quanyi_platform.kafka import ensure_topics

PLACED = orders_events.OrderPlaced.DESCRIPTOR.full_name
CANCELLED = orders_events.OrderCancelled.DESCRIPTOR.full_name


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, "batch_test", [])
    p = await db.create_pool(database_url, "batch_test")
    async with p.connection() as conn:
        await conn.execute("CREATE TABLE effects (order_id text PRIMARY KEY, times int NOT NULL)")
        await conn.execute("CREATE TABLE batches (n int NOT NULL)")
        await conn.commit()
    yield p
    await p.close()


def settings_for(database_url: str, bootstrap: str) -> PlatformSettings:
    return PlatformSettings(
        database_url=database_url, kafka_bootstrap=bootstrap, kafka_session_timeout_ms=6000,
        consumer_max_records=500,
    )


async def set_wise(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
    """One statement for the whole batch; refuses the whole batch when it holds an order 'o-poison'."""
    ids = [e.payload.order_id for e in events]
    if "o-poison" in ids:
        raise ValueError("a poison event")
    await conn.execute(
        "INSERT INTO effects (order_id, times) SELECT unnest(%s::text[]), 1"
        " ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1",
        (ids,),
    )
    await conn.execute("INSERT INTO batches VALUES (%s)", (len(events),))


async def produce(bootstrap: str, topic: str, events: list[NewEvent], raw_type: str | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        futures = []
        for ev in events:
            env = seal(ev, "test")
            headers = kafka_headers(env)
            futures.append(await producer.send(topic, env.SerializeToString(), key=b"one", headers=headers))
        if raw_type is not None:
            # Declares a type nobody handles; its bytes are not even an envelope. Skipped, never decoded.
            futures.append(await producer.send(topic, b"\xff garbage", key=b"one",
                                               headers=[("type", raw_type.encode())]))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def scalar(pool: AsyncConnectionPool, query: str) -> Any:
    async with pool.connection() as conn:
        cur = await conn.execute(query)
        row: Any = await cur.fetchone()
        return next(iter(row.values()))


async def wait_for(pool: AsyncConnectionPool, query: str, expected: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await scalar(pool, query) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{query} never reached {expected}")
        await asyncio.sleep(0.05)


async def wait_committed(bootstrap: str, group: str, topic: str, offset: int, timeout: float = 30) -> None:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while (await probe.committed(TopicPartition(topic, 0)) or 0) < offset:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{group} never committed offset {offset}")
            await asyncio.sleep(0.1)
    finally:
        await probe.stop()


def placed(order_id: str) -> NewEvent:
    return NewEvent("Order", order_id, 1, orders_events.OrderPlaced(order_id=order_id), correlation_id=order_id)


async def test_a_poison_event_in_the_middle_of_a_batch_is_dead_lettered_and_the_rest_apply_once(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"batch.poison.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic], partitions=1)
    ids = [f"o-{n}" for n in range(40)] + ["o-poison"] + [f"o-{n}" for n in range(40, 80)]
    await produce(broker.bootstrap, topic, [placed(i) for i in ids], raw_type="quanyi.unknown.v1.Nope")
    consumer = InboxConsumer(
        f"poison-{topic}", [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings
    )
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(pool, "SELECT count(*) FROM dead_letters", 1)
        await wait_for(pool, "SELECT count(*) FROM effects", 80)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT max(times) FROM effects") == 1
    assert await scalar(pool, "SELECT event_type FROM dead_letters") == PLACED
    assert await scalar(pool, "SELECT count(*) FROM inbox") == 81  # every handled event, poison included
    # Bisection applied the good ones in a handful of set-wise statements, not one per event.
    assert await scalar(pool, "SELECT count(*) FROM batches") <= 16


async def test_a_whole_batch_redelivered_has_no_effect_twice(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"batch.again.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic], partitions=1)
    events = [placed(f"o-{n}") for n in range(100)]
    await produce(broker.bootstrap, topic, events)
    await produce(broker.bootstrap, topic, events)  # the same events, the same ids, all over again
    name = f"again-{topic}"
    first = InboxConsumer(name, [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings)
    task = asyncio.create_task(first.run())
    try:
        await wait_for(pool, "SELECT count(*) FROM effects", 100)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # A new group reads the topic from the start: every batch comes again.
    second = InboxConsumer(name + "-b", [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings)
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO inbox (consumer, event_id) SELECT %s, event_id FROM inbox", (name + "-b",))
        await conn.commit()
    task = asyncio.create_task(second.run())
    try:
        await wait_committed(broker.bootstrap, name + "-b", topic, 200)  # it has read all 200 records
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT max(times) FROM effects") == 1
    assert await scalar(pool, "SELECT sum(n) FROM batches") == 100
    assert first.applied == 100 and second.applied == 0


@pytest.mark.parametrize("background", [False, True], ids=["on-the-way", "background"])
async def test_an_idle_consumer_fetches_slowly_and_wakes_for_the_first_record(
    pool: AsyncConnectionPool, database_url: str, broker: Any, background: bool
) -> None:
    """Idle, a consumer's fetches wait long; the first record wakes it, and it is back at its busy wait
    (a background consumer's is longer: it gathers larger batches off an order's way)."""
    topic = f"batch.idle.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"consumer_idle_after_ms": 300, "consumer_idle_fetch_wait_ms": 400,
                "consumer_background_idle_fetch_wait_ms": 400, "consumer_background_fetch_wait_ms": 120}
    )
    await ensure_topics(settings, [topic], partitions=1)
    consumer = InboxConsumer(
        f"idle-{topic}", [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings,
        background=background,
    )
    task = asyncio.create_task(consumer.run())

    try:
        await consumer.ready.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while consumer.fetch_wait_ms != 400:
            await asyncio.sleep(0.05)
            assert loop.time() < deadline, "the consumer never slowed its fetches"
        started = loop.time()
        await produce(broker.bootstrap, topic, [placed("o-after-quiet")])
        await wait_for(pool, "SELECT count(*) FROM effects", 1)
        latency = loop.time() - started
        woken_wait = consumer.fetch_wait_ms
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert latency < 1.5
    busy = settings.consumer_background_fetch_wait_ms if background else settings.consumer_fetch_wait_ms
    assert woken_wait == busy


async def test_a_busy_consumer_gathers_a_fetch_wait_of_records_per_batch(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    """Records arriving one by one, faster than the fetch wait: a fetch waits for its wait (or for
    consumer_fetch_min_bytes), so the batches hold many records, not the one or two that arrived since the
    last fetch."""
    topic = f"batch.gather.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"consumer_fetch_wait_ms": 150, "consumer_idle_after_ms": 60_000}
    )
    await ensure_topics(settings, [topic], partitions=1)
    consumer = InboxConsumer(
        f"gather-{topic}", [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings
    )
    task = asyncio.create_task(consumer.run())
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    await producer.start()
    try:
        await consumer.ready.wait()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(60):  # one record every ~5 ms, each acknowledged before the next
            env = seal(placed(f"o-gather{i}"), "test")
            await producer.send_and_wait(topic, env.SerializeToString(), key=b"one", headers=kafka_headers(env))
            await asyncio.sleep(0.005)
        await wait_for(pool, "SELECT count(*) FROM effects", 60)
        elapsed = loop.time() - started
    finally:
        await producer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    batches = await scalar(pool, "SELECT count(*) FROM batches")
    # About one batch per fetch wait, and slack (a fetch answered at once made a batch per record or two).
    bound = elapsed / 0.15 + 3
    assert batches <= bound, f"{batches} batches for 60 records in {elapsed:.2f} s (at most {bound:.0f})"


async def committed(bootstrap: str, group: str, topic: str) -> int:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        return int(await probe.committed(TopicPartition(topic, 0)) or 0)
    finally:
        await probe.stop()


async def test_a_consumer_commits_its_offsets_once_per_interval_and_the_rest_on_the_way_out(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"batch.commits.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"consumer_max_records": 10, "consumer_commit_interval_ms": 600_000}
    )
    await ensure_topics(settings, [topic], partitions=1)
    await produce(broker.bootstrap, topic, [placed(f"o-{n}") for n in range(50)])
    group = f"commits-{topic}"
    consumer = InboxConsumer(group, [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(pool, "SELECT count(*) FROM effects", 50)
        assert await scalar(pool, "SELECT count(*) FROM batches") >= 5  # batches of at most 10
        # Only the first batch's offsets went to the broker: each commit is a round trip.
        assert 0 < await committed(broker.bootstrap, group, topic) <= 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await committed(broker.bootstrap, group, topic) == 50  # committed on the way out


async def test_the_next_batch_is_decoded_and_prepared_while_the_last_one_applies_and_batches_apply_in_order(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"batch.pipelined.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(update={"consumer_max_records": 10})
    await ensure_topics(settings, [topic], partitions=1)
    ids = [f"o-{n:03d}" for n in range(60)]
    await produce(broker.bootstrap, topic, [placed(i) for i in ids])
    applied_order: list[str] = []
    prepared_seen: dict[str, Any] = {}
    prepared = ahead = 0

    def prepare(envelope: Any, payload: Any) -> str:
        # Applied one batch at a time, a prepare is at most one batch (10) ahead of what was applied;
        # pipelined, the batch before is still applying while this one is prepared.
        nonlocal prepared, ahead
        prepared += 1
        ahead = max(ahead, prepared - len(applied_order))
        if payload.order_id == "o-013":
            raise ValueError("prepare may fail: apply then does the work itself")
        return f"prepared {payload.order_id}"

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        await set_wise(conn, events)
        await asyncio.sleep(0.05)  # a slow transaction: the next batch is fetched and decoded meanwhile
        applied_order.extend(e.payload.order_id for e in events)
        prepared_seen.update({e.payload.order_id: e.prepared for e in events})

    consumer = InboxConsumer(
        f"pipelined-{topic}", [topic], BatchHandler(frozenset({PLACED}), apply, prepare), pool, settings
    )
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(pool, "SELECT count(*) FROM effects", 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT max(times) FROM effects") == 1
    assert applied_order == ids  # one batch after the other, in topic order
    assert prepared_seen["o-013"] is None
    assert all(prepared_seen[i] == f"prepared {i}" for i in ids if i != "o-013")
    assert ahead > 10
    assert await committed(broker.bootstrap, f"pipelined-{topic}", topic) == 60


async def test_a_consumer_stopped_while_a_batch_applies_leaves_its_group_and_the_batch_comes_again(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"batch.stopped.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic], partitions=1)
    await produce(broker.bootstrap, topic, [placed(f"o-{n}") for n in range(5)])
    started = asyncio.Event()

    async def slow(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        await set_wise(conn, events)
        started.set()
        await asyncio.sleep(60)  # stopped before it commits

    group = f"stopped-{topic}"
    first = InboxConsumer(group, [topic], BatchHandler(frozenset({PLACED}), slow), pool, settings)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
    assert first._kafka is not None and first._kafka._closed  # it left its group and closed its connections
    assert await scalar(pool, "SELECT count(*) FROM effects") == 0  # the batch rolled back
    second = InboxConsumer(group, [topic], BatchHandler(frozenset({PLACED}), set_wise), pool, settings)
    task = asyncio.create_task(second.run())
    try:
        await wait_for(pool, "SELECT count(*) FROM effects", 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT max(times) FROM effects") == 1
