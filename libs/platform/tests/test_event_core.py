"""The event core against the real broker and real Postgres: outbox, relay, inbox, broker loss."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import BatchHandler, InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import NewEvent, open_envelope, seal
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore
from quanyi_platform.infra.tansu import TansuBroker
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.relay import Relay

SCHEMA = "core_test"
PLACED = orders_events.OrderPlaced.DESCRIPTOR.full_name


def settings_for(database_url: str, bootstrap: str) -> PlatformSettings:
    return PlatformSettings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        kafka_session_timeout_ms=6000,
        broker_epoch_check_s=0.5,
        relay_batch_size=50,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, SCHEMA, [])
    p = await db.create_pool(database_url, SCHEMA)
    async with p.connection() as conn:
        await conn.execute("CREATE TABLE effects (order_id text PRIMARY KEY, times int NOT NULL)")
        await conn.commit()
    yield p
    await p.close()


def placed(order_id: str, version: int = 1) -> NewEvent:
    return NewEvent(
        "Order",
        order_id,
        version,
        orders_events.OrderPlaced(order_id=order_id, buyer_id="b1"),
        correlation_id=order_id,
    )


async def append(pool: AsyncConnectionPool, store: EventStore, events: list[NewEvent]) -> None:
    async with pool.connection() as conn, conn.transaction():
        await store.append(conn, events)


async def count_effects(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
    for ev in events:
        await conn.execute(
            "INSERT INTO effects (order_id, times) VALUES (%s, 1)"
            " ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1",
            (ev.payload.order_id,),
        )


COUNT = BatchHandler(frozenset({PLACED}), count_effects)


async def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 20) -> list[str]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    ids: list[str] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(set(ids)) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                ids.extend(open_envelope(bytes(r.value or b""))[0].event_id for r in records)
    finally:
        await consumer.stop()
    return ids


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


# The relay's saved floor: every event at or below it is on the broker.
SAVED_FLOOR = "SELECT coalesce(max(published_through), 0) FROM relay_state"


async def scalar(pool: AsyncConnectionPool, query: str) -> Any:
    async with pool.connection() as conn:
        cur = await conn.execute(query)
        row: Any = await cur.fetchone()
        await conn.rollback()
        return next(iter(row.values()))


async def test_an_append_of_a_version_that_exists_is_a_conflict(pool: AsyncConnectionPool) -> None:
    store = EventStore("core", topic="t")
    await append(pool, store, [placed("o1", 1)])
    with pytest.raises(ConcurrencyConflict):
        await append(pool, store, [placed("o1", 1)])
    assert await scalar(pool, "SELECT count(*) FROM events") == 1


async def test_a_rolled_back_transaction_leaves_no_event(pool: AsyncConnectionPool) -> None:
    store = EventStore("core", topic="t")
    with pytest.raises(RuntimeError):
        async with pool.connection() as conn, conn.transaction():
            await store.append(conn, [placed("o1")])
            raise RuntimeError("the handler failed after appending")
    assert await scalar(pool, "SELECT count(*) FROM events") == 0


async def test_a_relay_killed_at_any_point_loses_nothing(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"core.kill.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings_for(database_url, broker.bootstrap), [topic])
    store = EventStore("core", topic=topic)
    total = 5000
    for start in range(0, total, 500):  # committed before any relay runs: "between commit and publish"
        await append(pool, store, [placed(f"o{i}") for i in range(start, start + 500)])
    script = str(Path(__file__).with_name("relay_process.py"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    kills = 0
    while kills < 6 and not await _all_published(pool):
        before = await scalar(pool, SAVED_FLOOR)
        proc = subprocess.Popen(
            [sys.executable, script, database_url, SCHEMA, topic, broker.bootstrap],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("RELAY_LOG", os.devnull), "a"),
        )
        try:
            # Kill it as soon as it has made some progress: mid-batch, between send and mark.
            await wait_until(lambda b=before: _progressed_or_done(pool, b), timeout=30)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills += 1
    assert kills >= 2, "the relay was not killed mid-stream"
    proc = subprocess.Popen(
        [sys.executable, script, database_url, SCHEMA, topic, broker.bootstrap],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("RELAY_LOG", os.devnull), "a"),
    )
    try:
        await wait_until(lambda: _all_published(pool), timeout=60)
    finally:
        proc.terminate()
        proc.wait()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT event_id::text AS id FROM events")
        stored = {r["id"] for r in await cur.fetchall()}
    seen = await read_topic(broker.bootstrap, topic, expect=total)
    assert stored <= set(seen), f"{len(stored - set(seen))} committed events never reached the broker"
    assert len(stored) == total


async def _progressed_or_done(pool: AsyncConnectionPool, before: int) -> bool:
    return bool(await scalar(pool, SAVED_FLOOR) > before or await _all_published(pool))


async def _all_published(pool: AsyncConnectionPool) -> bool:
    """True once the relay's saved floor covers every event of the store."""
    return bool(await scalar(pool, f"SELECT count(*) FROM events WHERE seq > ({SAVED_FLOOR})") == 0)


async def test_a_relay_started_again_sends_only_what_lies_above_its_saved_floor(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"core.restart.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(update={"broker_epoch_check_s": 5.0})
    store = EventStore("core", topic=topic)
    await append(pool, store, [placed(f"o-before{i}") for i in range(200)])
    assert (await _relay_until_all_published(pool, settings, topic)).published == 200
    await append(pool, store, [placed("o-after")])
    assert (await _relay_until_all_published(pool, settings, topic)).published == 1
    assert len(set(await read_topic(broker.bootstrap, topic, expect=201))) == 201


async def _relay_until_all_published(pool: AsyncConnectionPool, settings: PlatformSettings, topic: str) -> Relay:
    """A new relay, run until the saved floor covers the store, then stopped."""
    relay = Relay(pool, settings, topic)
    task = asyncio.create_task(relay.run())
    try:
        await wait_until(lambda: _all_published(pool), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return relay


async def test_the_same_event_delivered_five_times_has_its_effect_once(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"core.dup.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic])
    env = seal(placed("o-dup"), "core")
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, env.SerializeToString(), key=b"o-dup")
        await producer.send_and_wait(
            topic, seal(placed("o-other"), "core").SerializeToString(), key=b"o-other"
        )
    finally:
        await producer.stop()
    applied: list[int] = []
    consumer = InboxConsumer(f"dup-{topic}", [topic], COUNT, pool, settings, applied.append)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_until(lambda: _effects(pool, 2), timeout=30)
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT times FROM effects WHERE order_id = 'o-dup'") == 1
    assert await scalar(pool, "SELECT count(*) FROM inbox") == 2
    assert sum(applied) == 2  # on_applied hears of effects only, once each


async def _effects(pool: AsyncConnectionPool, n: int) -> bool:
    return bool(await scalar(pool, "SELECT count(*) FROM effects") >= n)


async def test_an_event_the_handler_rejects_goes_to_dead_letters_and_the_rest_apply(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    async def picky(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        if any(ev.payload.order_id == "o-bad" for ev in events):
            raise ValueError("cannot apply this one")
        await count_effects(conn, events)

    topic = f"core.dlq.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for oid in ("o-1", "o-bad", "o-2"):
            await producer.send_and_wait(topic, seal(placed(oid), "core").SerializeToString(), key=b"k")
        await producer.send_and_wait(topic, b"not an envelope", key=b"k")
    finally:
        await producer.stop()
    consumer = InboxConsumer(f"dlq-{topic}", [topic], BatchHandler(frozenset({PLACED}), picky), pool, settings)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_until(lambda: _effects(pool, 2), timeout=30)
        await wait_until(lambda: _dead(pool, 2), timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await scalar(pool, "SELECT count(*) FROM effects") == 2
    assert await scalar(pool, "SELECT count(*) FROM dead_letters") == 2


async def _dead(pool: AsyncConnectionPool, n: int) -> bool:
    return bool(await scalar(pool, "SELECT count(*) FROM dead_letters") >= n)


async def test_a_broker_restarted_empty_mid_flow_is_refilled_and_nothing_applies_twice(
    pool: AsyncConnectionPool, database_url: str, tmp_path: Path
) -> None:
    own = TansuBroker(log_path=tmp_path / "tansu.log")  # its own broker: this test empties it
    own.start()
    try:
        settings = settings_for(database_url, own.bootstrap)
        topic = "core.refill.v1"
        store = EventStore("core", topic=topic)
        relay = Relay(pool, settings, topic)
        consumer = InboxConsumer("refill", [topic], COUNT, pool, settings)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            await append(pool, store, [placed(f"a{i}") for i in range(300)])
            await wait_until(lambda: _effects(pool, 300), timeout=30)
            own.restart_empty()
            await append(pool, store, [placed(f"b{i}") for i in range(300)])
            await wait_until(lambda: _effects(pool, 600), timeout=60)
            # The relay noticed the new broker and republished everything, old events included.
            await wait_until(lambda: _relay_republished(relay, 900), timeout=30)
            await wait_until(lambda: _all_published(pool), timeout=30)  # and saved how far it got
            await asyncio.sleep(1.0)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert await scalar(pool, "SELECT count(*) FROM effects") == 600
        assert await scalar(pool, "SELECT max(times) FROM effects") == 1
    finally:
        own.stop()


async def relay_on_new_topic(
    pool: AsyncConnectionPool, database_url: str, broker: Any, name: str
) -> tuple[EventStore, Relay]:
    """An event store and its relay (not running: the test drives publish_batch) on a topic of their own."""
    topic = f"core.{name}.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap)
    await ensure_topics(settings, [topic])
    return EventStore("core", topic=topic), Relay(pool, settings, topic)


async def _relay_republished(relay: Relay, n: int) -> bool:
    return relay.published >= n


async def test_an_event_committed_after_a_later_one_was_published_is_still_published(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    store, relay = await relay_on_new_topic(pool, database_url, broker, "late")
    await append(pool, store, [placed("o-first")])
    assert await relay.publish_batch() == 1
    slow = await AsyncConnection.connect(database_url, options=f"-c search_path={SCHEMA}")
    async with slow:
        await slow.execute("BEGIN")
        await store.append(slow, [placed("o-slow")])  # draws the lower seq, commits last
        for _ in range(5):  # polls while it is the newest transaction of all
            await relay.publish_batch()
        await append(pool, store, [placed(f"o-fast{i}") for i in range(3)])
        for _ in range(20):  # many polls while the slow transaction is open
            await relay.publish_batch()
            await asyncio.sleep(0.01)
        assert relay.published == 4  # every committed event, each once
        # The slow one's seq (the next after o-first's, invisible here) may still commit: the floor waits.
        assert relay.floor <= await scalar(pool, "SELECT seq FROM events WHERE aggregate_id = 'o-first'")
        await slow.execute("COMMIT")
    published = 0
    for _ in range(20):
        published += await relay.publish_batch()
    assert published == 1
    stored = await scalar(pool, "SELECT array_agg(event_id::text) FROM events")
    assert sorted(await read_topic(broker.bootstrap, store.topic, expect=5)) == sorted(stored)


async def test_an_idle_relay_takes_no_transaction_ids_once_its_floor_has_reached_the_top(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    store, relay = await relay_on_new_topic(pool, database_url, broker, "idle")
    await append(pool, store, [placed(f"o-idle{i}") for i in range(3)])
    top = await scalar(pool, "SELECT max(seq) AS top FROM events")
    for _ in range(10):  # publish, then checkpoints (at most one per 100 ms) move the floor to the top
        await relay.publish_batch()
        if relay.floor == top:
            break
        await asyncio.sleep(0.12)
    assert relay.floor == top

    # The relay's own count: the cluster's next id also moves with every other database's writes (CI
    # failed once on a shared server, 160 ids in that second, none of them the relay's).
    before = relay.xids_taken
    for _ in range(10):  # a second of idle polls, each past a checkpoint interval
        assert await relay.publish_batch() == 0
        await asyncio.sleep(0.11)
    assert relay.xids_taken == before  # each checkpoint would take a fresh id; an idle relay takes none
    await append(pool, store, [placed("o-after-idle")])
    assert await relay.publish_batch() == 1


async def test_a_relay_woken_by_its_stores_appends_publishes_soon_after_a_commit_and_idles_quietly(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"core.wake.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"relay_woken_idle_poll_ms": 5_000, "broker_epoch_check_s": 5.0}
    )
    store = EventStore("core", topic)
    relay = Relay(pool, settings, topic, wakeup=store.appended)
    task = asyncio.create_task(relay.run())
    try:
        await append(pool, store, [placed("o-warm")])
        await wait_until(lambda: _published(relay, 1), timeout=20)
        await asyncio.sleep(0.5)  # past the burst: the relay sleeps until woken
        polls_before = relay.polls
        await asyncio.sleep(1.0)
        idle_polls = relay.polls - polls_before
        loop = asyncio.get_running_loop()
        started = loop.time()
        await append(pool, store, [placed("o-woken")])
        await wait_until(lambda: _published(relay, 2), timeout=5)
        latency = loop.time() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert idle_polls <= 2, f"an idle relay polled {idle_polls} times in a second"
    assert latency < 1.0, f"published {latency:.2f} s after the commit (its idle poll is 5 s)"


async def test_an_idle_relay_reads_only_the_sequence_and_publishes_another_processs_commit(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    """Idle and settled, a relay that no append of its own process woke reads the sequence and polls not
    at all (no checkpoint, no transaction id); a commit by another process (another store, whose appends
    do not wake it) still goes out within about one idle interval."""
    topic = f"core.settled.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"relay_woken_idle_poll_ms": 200, "broker_epoch_check_s": 5.0}
    )
    store = EventStore("core", topic)
    relay = Relay(pool, settings, topic, wakeup=store.appended)
    task = asyncio.create_task(relay.run())
    try:
        await append(pool, store, [placed("o-settle")])
        await wait_until(lambda: _published(relay, 1), timeout=20)
        top = await scalar(pool, "SELECT max(seq) AS top FROM events")
        await wait_until(lambda: _floor_at(relay, top), timeout=10)  # idle polls settle the floor
        # Past the append's burst of fast polls too (the floor can settle inside it: 8 polls counted once).
        await asyncio.sleep(settings.relay_wake_burst_ms / 1000 + 0.1)
        polls, xids = relay.polls, relay.xids_taken
        await asyncio.sleep(1.0)  # five idle intervals
        idle_polls, idle_xids = relay.polls - polls, relay.xids_taken - xids
        loop = asyncio.get_running_loop()
        started = loop.time()
        await append(pool, EventStore("core", topic), [placed("o-elsewhere")])
        await wait_until(lambda: _published(relay, 2), timeout=10)
        latency = loop.time() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert idle_polls == 0 and idle_xids == 0, f"{idle_polls} polls and {idle_xids} ids while settled"
    assert latency < 2.0, f"another process's commit published {latency:.2f} s after it (idle interval 0.2 s)"


async def _floor_at(relay: Relay, seq: int) -> bool:
    return relay.floor >= seq


async def _published(relay: Relay, n: int) -> bool:
    return relay.published >= n


async def test_a_busy_relay_gathers_a_poll_interval_of_commits_per_batch(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    """Commits arriving one by one, faster than the poll interval: after a batch that took all there was
    the relay waits a poll interval, so it polls about once per interval, not once per commit."""
    topic = f"core.gather.{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, broker.bootstrap).model_copy(
        update={"relay_poll_ms": 100, "relay_wake_burst_ms": 200, "broker_epoch_check_s": 5.0}
    )
    await ensure_topics(settings, [topic])
    store = EventStore("core", topic)
    relay = Relay(pool, settings, topic, wakeup=store.appended)
    task = asyncio.create_task(relay.run())
    try:
        await append(pool, store, [placed("o-gather-warm")])
        await wait_until(lambda: _published(relay, 1), timeout=20)
        loop = asyncio.get_running_loop()
        polls_before, started = relay.polls, loop.time()
        for i in range(60):  # one commit every ~5 ms (slower on a busy machine: the bound follows the time)
            await append(pool, store, [placed(f"o-gather{i}")])
            await asyncio.sleep(0.005)
        await wait_until(lambda: _published(relay, 61), timeout=20)
        polls = relay.polls - polls_before
        elapsed = loop.time() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # One poll per interval while commits arrive, a few empty ones in the burst after them, and slack
    # (polling again at once after each batch made about one poll per commit).
    bound = elapsed / 0.1 + 6
    assert polls <= bound, f"{polls} polls for 60 commits in {elapsed:.2f} s (at most {bound:.0f} expected)"

