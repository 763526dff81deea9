"""Ledger's consumer on real Postgres: a fetched batch of financial facts is one unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import ConsumerRecord
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.bootstrap import NAME
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import kafka_headers
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.testing.statements import CountingConnection, counting_pool

from .conftest import fetch, received
from .facts import delivered, refunded, sale


@pytest.fixture
async def counted_pool(pool: AsyncConnectionPool, database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with counting_pool(database_url, NAME) as p:
        yield p


def ledger_consumer(pool: AsyncConnectionPool, store: EventStore, database_url: str) -> InboxConsumer:
    return InboxConsumer(
        NAME,
        [topic_for("orders"), topic_for("fulfillment")],
        batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn)),
        pool,
        PlatformSettings(database_url=database_url, kafka_bootstrap="unused:9092"),
    )


def records(events: list[ReceivedEvent], first_offset: int = 0) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for offset, ev in enumerate(events, start=first_offset):
        value = ev.envelope.SerializeToString()
        out.append(
            ConsumerRecord(ev.topic, 0, offset, 0, 0, None, value, None, 0, len(value), kafka_headers(ev.envelope))
        )
    return out


def orders_of(n: int, prefix: str = "o") -> list[ReceivedEvent]:
    out: list[ReceivedEvent] = []
    for i in range(n):
        out += [*sale(f"{prefix}{i}", "web", 100 + i), delivered(f"{prefix}{i}", "web", 40)]
    return out


async def counts(pool: AsyncConnectionPool) -> tuple[int, int, int]:
    entries = len(await fetch(pool, "SELECT seq FROM journal_entries"))
    lines = len(await fetch(pool, "SELECT entry_seq FROM journal_lines"))
    events = len(await fetch(pool, "SELECT seq FROM events"))
    return entries, lines, events


async def test_a_poison_fact_in_the_middle_of_a_batch_is_dead_lettered_and_the_rest_post_once(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    bad = received(orders.OrderPaid(order_id="bad", channel="web", total=Money(minor_units=5)), "bad")
    batch = [*orders_of(3), bad, *orders_of(3, prefix="p")]
    ledger = ledger_consumer(pool, store, database_url)

    assert await ledger.apply(records(batch)) == len(batch) - 1

    assert (await counts(pool))[0] == 18
    [dead] = await fetch(pool, "SELECT event_id::text AS id, error FROM dead_letters")
    assert dead["id"] == bad.event_id and "UnbalancedEntry" in dead["error"]
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok and result.entries == 18, result.problems


async def test_a_redelivered_batch_or_a_fact_heard_again_posts_nothing_twice(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    ledger = ledger_consumer(pool, store, database_url)
    batch = orders_of(4)
    assert await ledger.apply(records(batch)) == 12
    before = (await counts(pool), await fetch(pool, "SELECT * FROM balances ORDER BY account"))

    assert await ledger.apply(records(batch)) == 0  # the same events: the inbox drops them
    # The same facts under another consumer name (a new inbox): the journal posts nothing again.
    other = InboxConsumer(
        "ledger-replica", ledger.topics, batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn)),
        pool, PlatformSettings(database_url=database_url, kafka_bootstrap="unused:9092"),
    )
    assert await other.apply(records(batch, first_offset=100)) == 12

    assert (await counts(pool), await fetch(pool, "SELECT * FROM balances ORDER BY account")) == before


async def test_facts_of_types_the_ledger_does_not_post_are_skipped(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    placed = received(orders.OrderPlaced(order_id="o1", buyer_id="b1"), "o1")
    ledger = ledger_consumer(pool, store, database_url)
    assert await ledger.apply(records([placed, *sale("o1", "web", 10)])) == 2
    assert (await counts(pool))[0] == 2


@pytest.mark.parametrize("orders_in_batch", [1, 60])
async def test_a_batch_costs_the_same_few_statements_however_many_facts_it_holds(
    counted_pool: AsyncConnectionPool, store: EventStore, database_url: str, orders_in_batch: int
) -> None:
    ledger = ledger_consumer(counted_pool, store, database_url)
    batch = orders_of(orders_in_batch)
    batch.append(refunded("o0", "web", 100, True))
    CountingConnection.statements.clear()
    assert await ledger.apply(records(batch)) == len(batch)
    # inbox claim, the refunded orders' earlier entries, lock + chain head, the staging tables (if not there
    # yet), entries and lines (from the staging tables, which two COPYs fill), append of EntriesPosted,
    # balances
    assert len(CountingConnection.statements) == 7, CountingConnection.statements
    assert await counts(counted_pool) == (len(batch), 2 * len(batch), 1)
