"""Verifying the journal: chain, balance of every entry, and the read model against the journal."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from quanyi_ledger.adapters import journal_store
from quanyi_ledger.domain.chain import ChainVerifier, Verification


async def verify_journal(conn: AsyncConnection[Any]) -> Verification:
    """Recompute the hash chain and every entry's balance from one consistent snapshot.

    Also reports a journal shorter than its LedgerPosted events (entries removed from the end, which the
    chain alone cannot show) and balances in the read model that differ from the journal's sums.
    Runs its own read-only transaction on `conn`, which must not be in one.
    """
    verifier = ChainVerifier()
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        async for rec in journal_store.recorded_entries(conn):
            verifier.add(rec)
        announced = await journal_store.last_announced_seq(conn)
        if announced > verifier.last_seq:
            verifier.problem(
                f"the journal ends at entry {verifier.last_seq} but entry {announced} was posted"
            )
        journal = {(b.account, b.currency): b for b in await journal_store.journal_totals(conn)}
        model = {(b.account, b.currency): b for b in await journal_store.balances(conn)}
        for account, currency in sorted(journal.keys() | model.keys()):
            j, m = journal.get((account, currency)), model.get((account, currency))
            j_totals = (j.debit_total, j.credit_total) if j else (0, 0)
            m_totals = (m.debit_total, m.credit_total) if m else (0, 0)
            if j_totals != m_totals:
                verifier.problem(f"balances read model differs from the journal for {account} in {currency}")
    return verifier.result()
