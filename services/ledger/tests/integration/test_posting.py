"""Posting facts through the consumer's batch handler into a real Postgres journal, event store and balances."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from psycopg import errors
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain.chain import GENESIS_HASH
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import deliver, fetch, received
from .facts import delivered, refunded, sale


async def balance_map(pool: AsyncConnectionPool) -> dict[str, int]:
    rows = await fetch(pool, "SELECT account, debit_total - credit_total AS net FROM balances")
    return {r["account"]: r["net"] for r in rows}


async def test_a_batch_posts_one_entry_per_fact_in_a_chain_from_genesis_and_one_entries_posted_event(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    events = [*sale("o1", "web", 1000), delivered("o1", "web", 300, 200)]
    await deliver(pool, store, *events)

    entries = await fetch(pool, "SELECT * FROM journal_entries ORDER BY seq")
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert [e["kind"] for e in entries] == ["payment", "sale", "key_cost"]
    assert [str(e["source_event_id"]) for e in entries] == [ev.event_id for ev in events]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert {e["correlation_id"] for e in entries} == {"o1"}

    rows = await fetch(pool, "SELECT * FROM events ORDER BY seq")
    assert [(r["aggregate_type"], r["aggregate_id"], r["aggregate_version"]) for r in rows] == [
        ("Journal", "journal", 3)
    ]
    env, payload = open_envelope(bytes(rows[0]["envelope"]))
    assert isinstance(payload, ledger_events.EntriesPosted)
    assert [(p.seq, p.kind, p.hash, p.source_event_id) for p in payload.entries] == [
        (e["seq"], e["kind"], e["hash"], str(e["source_event_id"])) for e in entries
    ]
    assert [(ln.account, ln.debit_minor, ln.credit_minor) for ln in payload.entries[2].lines] == [
        ("cogs:web", 500, 0), ("inventory:keys", 0, 500)
    ]
    assert env.correlation_id == "o1" and env.causation_id == events[0].event_id


async def test_a_redelivered_event_never_posts_twice(pool: AsyncConnectionPool, store: EventStore) -> None:
    captured = sale("o1", "web", 1000)[0]
    await deliver(pool, store, captured)
    await deliver(pool, store, captured)
    await deliver(pool, store, captured, captured)

    assert len(await fetch(pool, "SELECT seq FROM journal_entries")) == 1
    assert len(await fetch(pool, "SELECT seq FROM events")) == 1
    assert await balance_map(pool) == {"clearing:psp:psp-sim": 1000, "deposits:buyers": -1000}


async def test_keys_without_cost_post_nothing(pool: AsyncConnectionPool, store: EventStore) -> None:
    await deliver(pool, store, delivered("o1", "web", 0, 0))
    assert await fetch(pool, "SELECT seq FROM journal_entries") == []
    assert await fetch(pool, "SELECT seq FROM events") == []


async def test_balances_equal_the_journal_sums_and_channel_revenue_is_sales_minus_refunds(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    await deliver(
        pool,
        store,
        *sale("o1", "web", 1000), delivered("o1", "web", 400),
        *sale("o2", "tmall", 500), delivered("o2", "tmall", 150), refunded("o2", "tmall", 500, True),
        *sale("o3", "web", 700),
        sale("o4", "web", 900)[0], refunded("o4", "web", 900, False),  # refunded before release
    )

    balances = await balance_map(pool)
    journal: dict[str, int] = defaultdict(int)
    for r in await fetch(pool, "SELECT account, debit_minor - credit_minor AS net FROM journal_lines"):
        journal[r["account"]] += r["net"]
    assert balances == dict(journal)
    assert sum(balances.values()) == 0

    def channel_revenue(channel: str) -> int:
        return -balances.get(f"revenue:{channel}", 0) - balances.get(f"refunds:{channel}", 0)

    assert channel_revenue("web") == 1000 + 700
    assert channel_revenue("tmall") == 500 - 500
    assert balances["cogs:web"] == 400 and balances["cogs:tmall"] == 150
    assert balances["inventory:keys"] == -550
    assert balances["clearing:psp:psp-sim"] == 1000 + 500 + 700 + 900
    assert balances["payables:refunds"] == -(500 + 900)  # decided, not paid back yet
    assert balances["deposits:buyers"] == 0


async def test_balances_rebuilt_from_the_event_store_equal_the_live_ones(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), refunded("o1", "web", 1000, True))
    await deliver(pool, store, *sale("o2", "jd", 300), delivered("o2", "jd", 120))
    await deliver(pool, store, *sale("o3", "web", 50))

    [comparison] = await assert_replay_matches_live(database_url, "ledger")
    tables = {t.table: t.live_rows for t in comparison.tables}
    assert tables["balances"] == len(await balance_map(pool))


async def test_concurrent_posters_extend_one_gapless_chain(pool: AsyncConnectionPool, store: EventStore) -> None:
    orders_ = [sale(f"o{i}", "web", 100 + i) for i in range(12)]
    await asyncio.gather(*(deliver(pool, store, *evs) for evs in orders_))

    seqs = [r["seq"] for r in await fetch(pool, "SELECT seq FROM journal_entries ORDER BY seq")]
    assert seqs == list(range(1, 25))
    assert len(await fetch(pool, "SELECT seq FROM events")) == 12
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok, result.problems
    assert result.entries == 24


async def test_a_rejected_entry_rolls_back_with_its_batch(pool: AsyncConnectionPool, store: EventStore) -> None:
    no_currency = Money(minor_units=5)
    bad = received(orders.OrderPaid(order_id="o9", channel="web", total=no_currency), "o9")
    with pytest.raises(ValueError):
        await deliver(pool, store, *sale("o1", "web", 1000), bad)
    assert await fetch(pool, "SELECT seq FROM journal_entries") == []
    assert await fetch(pool, "SELECT seq FROM events") == []
    assert await fetch(pool, "SELECT account FROM balances") == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET memo = 'edited'",
        "UPDATE journal_lines SET debit_minor = debit_minor",
        "DELETE FROM journal_lines",
        "DELETE FROM journal_entries WHERE seq = 1",
        "DELETE FROM journal_entries WHERE false",
        "TRUNCATE journal_lines",
        "TRUNCATE journal_entries CASCADE",
    ],
)
async def test_the_database_refuses_to_change_or_remove_journal_rows(
    pool: AsyncConnectionPool, store: EventStore, statement: str
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000))
    async with pool.connection() as conn:
        with pytest.raises(errors.RaiseException, match="append-only"):
            await conn.execute(statement)
        await conn.rollback()
    assert len(await fetch(pool, "SELECT * FROM journal_lines")) == 4


# What a poster bypassing the application would write: entries and their lines in one statement.
INSERT = (
    "WITH e AS (INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, occurred_at, prev_hash, hash)"
    " SELECT s, gen_random_uuid(), gen_random_uuid(), 'sale', now(), p, h"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u (s, p, h))"
    " INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency)"
    " SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::bigint[], %s::bigint[], %s::text[])"
)
A, B, C = "a" * 64, "b" * 64, "c" * 64


async def insert(
    pool: AsyncConnectionPool, entries: list[tuple[int, str, str]], lines: list[tuple[int, int, str, int, int]]
) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            INSERT,
            (
                [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries],
                [ln[0] for ln in lines], [ln[1] for ln in lines], [ln[2] for ln in lines],
                [ln[3] for ln in lines], [ln[4] for ln in lines], ["CNY"] * len(lines),
            ),
        )
        await conn.commit()


def balanced(seq: int, amount: int = 100) -> list[tuple[int, int, str, int, int]]:
    return [(seq, 1, "deposits:buyers", amount, 0), (seq, 2, "revenue:web", 0, amount)]


async def test_entries_inserted_with_their_balanced_lines_in_one_statement_are_accepted(
    pool: AsyncConnectionPool,
) -> None:
    await insert(pool, [(1, GENESIS_HASH, A), (2, A, B)], balanced(1) + balanced(2, 7))
    assert len(await fetch(pool, "SELECT seq FROM journal_entries")) == 2


async def test_an_unbalanced_entry_is_refused_at_the_end_of_its_statement(pool: AsyncConnectionPool) -> None:
    lines = [(1, 1, "deposits:buyers", 100, 0), (1, 2, "revenue:web", 0, 99)]
    with pytest.raises(errors.RaiseException, match="journal entry 1 does not balance in CNY"):
        await insert(pool, [(1, GENESIS_HASH, A)], lines)
    assert await fetch(pool, "SELECT seq FROM journal_entries") == []


async def test_an_entry_without_lines_is_refused(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        with pytest.raises(errors.RaiseException, match=re.escape("has 0 line(s); an entry needs at least 2")):
            await conn.execute(
                "INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, occurred_at, prev_hash, hash)"
                " VALUES (1, gen_random_uuid(), gen_random_uuid(), 'sale', now(), %s, %s)",
                (GENESIS_HASH, A),
            )


async def test_an_entry_of_one_line_is_refused(pool: AsyncConnectionPool) -> None:
    with pytest.raises(errors.RaiseException, match=re.escape("has 1 line(s); an entry needs at least 2")):
        await insert(pool, [(1, GENESIS_HASH, A)], [(1, 1, "cash:psp", 5, 0)])


async def test_lines_added_to_a_posted_entry_are_refused_even_when_they_balance(
    pool: AsyncConnectionPool,
) -> None:
    await insert(pool, [(1, GENESIS_HASH, A)], balanced(1))
    async with pool.connection() as conn:
        with pytest.raises(errors.RaiseException, match="journal entry 1 has its lines already"):
            await conn.execute(
                "INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency)"
                " VALUES (1, 3, 'cash:psp', 5, 0, 'CNY'), (1, 4, 'revenue:web', 0, 5, 'CNY')"
            )


async def test_lines_of_an_entry_that_does_not_exist_are_refused(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        with pytest.raises(errors.RaiseException, match="name entry 7, which does not exist"):
            await conn.execute(
                "INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency)"
                " VALUES (7, 1, 'cash:psp', 5, 0, 'CNY'), (7, 2, 'revenue:web', 0, 5, 'CNY')"
            )


async def test_an_entry_that_does_not_extend_the_chain_is_refused(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000))
    with pytest.raises(errors.RaiseException, match="entry 4 does not extend the chain, which ends at entry 2"):
        await insert(pool, [(4, GENESIS_HASH, A)], balanced(4))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([(1, GENESIS_HASH, A), (2, C, B)], "entry 2 does not extend the chain, which ends at entry 1"),
        ([(1, GENESIS_HASH, A), (3, A, B)], "entry 3 does not extend the chain, which ends at entry 1"),
        ([(1, A, A), (2, A, B)], "entry 1 does not extend the chain, which ends at entry 0"),
    ],
)
async def test_a_set_of_entries_is_refused_at_the_first_broken_link(
    pool: AsyncConnectionPool, entries: list[tuple[int, str, str]], message: str
) -> None:
    lines = [ln for e in entries for ln in balanced(e[0])]
    with pytest.raises(errors.RaiseException, match=message):
        await insert(pool, entries, lines)
    assert await fetch(pool, "SELECT seq FROM journal_entries") == []


async def test_entry_times_keep_their_instant_whatever_the_source_time_zone(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    ev = sale("o1", "web", 10)[0]
    await deliver(pool, store, ev)
    [row] = await fetch(pool, "SELECT occurred_at, source_event_id FROM journal_entries")
    assert row["occurred_at"] == ev.envelope.occurred_at.ToDatetime(tzinfo=UTC)
    assert row["occurred_at"].tzinfo is not None and row["occurred_at"] <= datetime.now(UTC)
    assert row["source_event_id"] == uuid.UUID(ev.event_id)
