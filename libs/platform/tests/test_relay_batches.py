"""The relay's own record batches: every record on the partition the client's partitioner picks, in order."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import NewEvent, open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.relay import Relay, murmur2

SCHEMA = "relay_batches_test"


def test_murmur2_is_the_clients_for_keys_of_every_length() -> None:
    rng = random.Random(7)
    for _ in range(5_000):
        key = rng.randbytes(rng.randint(0, 80))
        assert murmur2(key) == aiokafka_murmur2(key)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, SCHEMA, [])
    p = await db.create_pool(database_url, SCHEMA)
    yield p
    await p.close()


async def test_a_relays_batches_put_each_event_where_the_partitioner_would_in_store_order(
    pool: AsyncConnectionPool, database_url: str, broker: Any
) -> None:
    topic = f"core.batches.{uuid.uuid4().hex[:8]}"
    # Small producer batches are not needed: 120 events of 30 orders, 4 versions each, in one poll.
    settings = PlatformSettings(database_url=database_url, kafka_bootstrap=broker.bootstrap, relay_batch_size=500)
    await ensure_topics(settings, [topic])
    store, relay = EventStore("core", topic=topic), Relay(pool, settings, topic)
    orders = [f"o-{uuid.uuid4()}" for _ in range(30)]
    events = [
        NewEvent("Order", o, v, orders_events.OrderPlaced(order_id=o, buyer_id="b1"), correlation_id=o)
        for v in range(1, 5)
        for o in orders
    ]
    async with pool.connection() as conn, conn.transaction():
        await store.append(conn, events)
    assert await relay.publish_batch() == len(events)

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: list[tuple[int, str, int, int]] = []  # partition, aggregate, version, seq
    try:
        while len(seen) < len(events):
            batch = await consumer.getmany(timeout_ms=5_000)
            assert batch, f"only {len(seen)} of {len(events)} records arrived"
            for tp, records in batch.items():
                for r in records:
                    env, _ = open_envelope(bytes(r.value or b""))
                    seq = int(dict(r.headers)["seq"])
                    assert r.key == env.aggregate_id.encode()
                    seen.append((tp.partition, env.aggregate_id, env.aggregate_version, seq))
    finally:
        await consumer.stop()
    partitions = list(range(settings.kafka_partitions))
    for partition, aggregate, _, _ in seen:
        assert partition == DefaultPartitioner()(aggregate.encode(), partitions, partitions)
    by_partition: dict[int, list[tuple[int, str, int]]] = {}
    for partition, aggregate, version, seq in seen:
        by_partition.setdefault(partition, []).append((seq, aggregate, version))
    for records in by_partition.values():
        assert [seq for seq, _, _ in records] == sorted(seq for seq, _, _ in records)
    for o in orders:
        versions = [v for _, a, v, _ in sorted(seen, key=lambda s: (s[0], s[3])) if a == o]
        assert versions == [1, 2, 3, 4]
