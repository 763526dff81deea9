"""Risk's consumer on real Postgres: a fetched batch of OrderPlaced is one unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import pytest
from aiokafka import ConsumerRecord
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.envelope import NewEvent, seal
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.testing.statements import CountingConnection, counting_pool
from quanyi_risk.bootstrap import NAME, consumer
from quanyi_risk.config import Settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMIT = 3


@pytest.fixture
async def counted_pool(pool: AsyncConnectionPool, database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with counting_pool(database_url, NAME) as p:
        yield p


def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, kafka_bootstrap="unused:9092", risk_max_orders_per_minute=LIMIT)


def placed(order_id: str, buyer_id: str, seconds: float) -> NewEvent:
    return NewEvent(
        "Order", order_id, 1, orders_events.OrderPlaced(order_id=order_id, buyer_id=buyer_id),
        correlation_id=order_id, occurred_at=T0 + timedelta(seconds=seconds),
    )


def records(events: list[NewEvent], first_offset: int = 0) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for offset, ev in enumerate(events, start=first_offset):
        value = seal(ev, "orders").SerializeToString()
        headers = [("type", orders_events.OrderPlaced.DESCRIPTOR.full_name.encode())]
        out.append(ConsumerRecord(topic_for("orders"), 0, offset, 0, 0, None, value, None, 0, len(value), headers))
    return out


async def rows(pool: AsyncConnectionPool, query: LiteralString) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query)
        found: list[dict[str, Any]] = await cur.fetchall()  # type: ignore[assignment]
        return found


async def decisions(pool: AsyncConnectionPool) -> dict[str, str]:
    return {r["order_id"]: r["decision"] for r in await rows(pool, "SELECT order_id, decision FROM decisions")}


async def test_one_buyers_orders_in_one_batch_count_against_each_other_as_if_they_came_one_by_one(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    # Arrival order differs from placing order: the one that arrives last is held, whenever it was placed.
    batch = [placed(f"o{i}", "b1", 10 - i) for i in range(LIMIT + 1)]
    assert await consumer(pool, settings(database_url), store).apply(records(batch)) == LIMIT + 1
    assert await decisions(pool) == {"o0": "APPROVE", "o1": "APPROVE", "o2": "APPROVE", "o3": "REVIEW"}
    velocity = await rows(pool, "SELECT order_id, buyer_id, placed_at FROM order_velocity ORDER BY order_id")
    assert [(r["order_id"], r["placed_at"]) for r in velocity] == [
        (f"o{i}", T0 + timedelta(seconds=10 - i)) for i in range(LIMIT + 1)
    ]


async def test_a_poison_order_in_the_middle_of_a_batch_is_dead_lettered_and_the_rest_apply_once(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    batch = [placed("o1", "b1", 0), placed("o2", "b2", 1), placed("o-bad", "", 2), placed("o3", "b1", 3)]
    risk = consumer(pool, settings(database_url), store)
    assert await risk.apply(records(batch)) == 3
    assert await decisions(pool) == {"o1": "APPROVE", "o2": "APPROVE", "o3": "APPROVE"}
    [dead] = await rows(pool, "SELECT event_id::text, error FROM dead_letters")
    assert "InvalidOrder" in dead["error"]
    assert len(await rows(pool, "SELECT 1 FROM events")) == 3


async def test_a_redelivered_batch_or_a_repeated_order_has_no_effect_twice(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    risk = consumer(pool, settings(database_url), store)
    batch = records([placed(f"o{i}", "b1", i) for i in range(LIMIT + 2)])
    assert await risk.apply(batch) == LIMIT + 2
    before = await decisions(pool)
    assert await risk.apply(batch) == 0  # the same events: the inbox drops them
    # The same orders placed again under new event ids: the inbox lets them in, the domain decides nothing.
    again = records([placed(f"o{i}", "b1", i) for i in range(LIMIT + 2)], first_offset=100)
    assert await risk.apply(again) == LIMIT + 2
    assert await decisions(pool) == before
    assert len(await rows(pool, "SELECT 1 FROM events")) == LIMIT + 2
    assert len(await rows(pool, "SELECT 1 FROM order_velocity")) == LIMIT + 2


@pytest.mark.parametrize("size", [1, 60])
async def test_a_batch_costs_the_same_six_statements_however_many_orders_it_holds(
    counted_pool: AsyncConnectionPool, store: EventStore, database_url: str, size: int
) -> None:
    risk = consumer(counted_pool, settings(database_url), store)
    batch = records([placed(f"o{i}", f"b{i % 7}", i) for i in range(size)])
    CountingConnection.statements.clear()
    assert await risk.apply(batch) == size
    # inbox claim, buyers' locks, load of their windows, append, order_velocity, decisions
    assert len(CountingConnection.statements) == 6, CountingConnection.statements
