"""Replay of the ledger's projections: a tampered balance is found and repaired, and a swap while facts
post loses and repeats nothing (I6, I3)."""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_platform.eventstore import EventStore
from quanyi_platform.replay import ServiceProjections, drop_shadow, rebuild, swap, verify

from .conftest import deliver, fetch
from .facts import delivered, sale

SPEC = ServiceProjections.of("ledger")


async def test_a_balance_written_behind_the_projection_is_named_by_verify_and_repaired_by_swap(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), delivered("o1", "web", 300))
    async with pool.connection() as conn:
        await conn.execute("UPDATE balances SET debit_total = debit_total + 1 WHERE account = 'clearing:psp:psp-sim'")
        await conn.commit()
    assert not (await verify_journal(PgLedgerUnitOfWork(store, pool=pool))).ok

    rebuilt = await rebuild(database_url, SPEC)
    try:
        report = await verify(database_url, rebuilt)
        assert not report.equal
        [table] = [t for t in report.tables if t.table == "balances"]
        assert all(t.equal for t in report.tables if t.table != "balances")
        assert any("1001" in r for r in table.only_live) and any("1000" in r for r in table.only_shadow)
        assert (await swap(database_url, rebuilt)).equal
    finally:
        await drop_shadow(database_url, SPEC)
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok, result.problems


async def test_a_swap_while_facts_post_loses_and_repeats_nothing(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    for i in range(40):
        await deliver(pool, store, *sale(f"a{i}", "web", 100 + i), delivered(f"a{i}", "web", 30))
    stop = asyncio.Event()
    carried_on = asyncio.Event()  # postings went on after the swap
    posted = 0
    at_swap: int | None = None

    async def poster(name: str) -> None:
        nonlocal posted
        n = 0
        while not stop.is_set():
            await deliver(pool, store, *sale(f"{name}{n}", "jd", 10 + n))
            posted += 1
            n += 1
            if at_swap is not None and posted >= at_swap + 6:
                carried_on.set()

    posters = [asyncio.create_task(poster(p)) for p in ("p", "q", "r")]
    try:
        rebuilt = await rebuild(database_url, SPEC, batch_size=7)
        swapped = await swap(database_url, rebuilt)
        at_swap = posted
        await asyncio.wait_for(carried_on.wait(), timeout=30)
    finally:
        stop.set()
        await asyncio.gather(*posters)
        await drop_shadow(database_url, SPEC)
    assert swapped.equal, swapped.describe()
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok, result.problems  # the balances equal the journal's sums: nothing lost or doubled
    assert result.entries == 40 * 3 + posted * 2
    [row] = await fetch(pool, "SELECT credit_total FROM balances WHERE account = 'revenue:jd'")
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT sum(credit_minor) AS s FROM journal_lines WHERE account = 'revenue:jd'")
        assert row["credit_total"] == (await cur.fetchone())["s"]
    final = await verify(database_url, await rebuild(database_url, SPEC))
    await drop_shadow(database_url, SPEC)
    assert final.equal, final.describe()
