"""The balances projection on real Postgres equals the fold of the recorded events, and the journal equals
what the events announced, whatever facts arrive in whatever batches."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.proto import ENTRIES_POSTED, entries_posted_from_proto
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.ledger import EntriesPosted, balances_of, fold
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore

from ..strategies import heard_batches, postable


async def recorded(pool: AsyncConnectionPool) -> list[EntriesPosted]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope FROM events WHERE event_type = %s ORDER BY seq", (ENTRIES_POSTED,))
        rows: list[Any] = await cur.fetchall()
    out = []
    for row in rows:
        _, payload = open_envelope(bytes(row["envelope"]))
        out.append(entries_posted_from_proto(payload))  # type: ignore[arg-type]
    return out


def renamed(batches: list[list[HeardFact]], namespace: uuid.UUID) -> list[list[HeardFact]]:
    """The same batches with source event ids of their own: examples share one database."""
    return [
        [
            HeardFact(h.fact, posting.Source(str(uuid.uuid5(namespace, h.source.event_id)), h.source.occurred_at),
                      h.correlation_id)
            for h in batch
        ]
        for batch in batches
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(heard_batches(max_batches=4, max_batch=8))
async def test_the_balances_projection_and_the_journal_equal_the_fold_of_the_recorded_events(
    pool: AsyncConnectionPool, store: EventStore, batches: list[list[HeardFact]]
) -> None:
    batches = renamed(batches, uuid.uuid4())
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT source_event_id::text AS s FROM journal_entries")
        before = {r["s"] for r in await cur.fetchall()}
    for batch in batches:
        await post_facts(PgLedgerUnitOfWork(store, pool=pool), batch)

    events = await recorded(pool)
    uow = PgLedgerUnitOfWork(store, pool=pool)
    async with uow:
        journal = [e async for e in uow.journal.entries()]
        projection = await uow.balances.list()
        chain = await uow.journal.load(list(fold(events).posted))
    assert [e for ev in events for e in ev.entries] == journal
    assert chain == fold(events)
    assert projection == balances_of(events)
    assert {e.rec.source_event_id for e in journal} - before == postable(batches)
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok, result.problems
