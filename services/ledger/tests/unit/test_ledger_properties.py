"""Property: whatever facts arrive, in whatever batches, folding the recorded events gives the ledger's state.

Random postings run through the application (post_facts) on the in-memory unit of work; afterwards the
chain folded from the EntriesPosted events equals the journal's end, the balances folded from them equal
the balances read model and the journal's own sums, every fact is posted once, and the chain verifies.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.adapters.proto import entries_posted_of
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain.chain import verify
from quanyi_ledger.domain.ledger import Chain, balances_of, fold

from ..strategies import heard_batches, postable


async def run(batches: list[list[HeardFact]]) -> InMemoryLedger:
    db = InMemoryLedger()
    for batch in batches:
        await post_facts(InMemoryLedgerUnitOfWork(db), batch)
    return db


@settings(max_examples=150, deadline=None)
@given(heard_batches())
def test_folding_the_recorded_events_gives_the_journal_the_balances_and_each_fact_once(
    batches: list[list[HeardFact]],
) -> None:
    db = asyncio.run(run(batches))
    events = entries_posted_of([e.payload for e in db.events.committed])
    journal = [e.rec for e in db.journal]

    chain = fold(events)
    loaded = asyncio.run(InMemoryLedgerUnitOfWork(db).journal.load(list(chain.posted)))
    assert loaded == chain
    assert (chain.seq, chain.hash) == ((journal[-1].seq, journal[-1].hash) if journal else (0, Chain().hash))
    assert [e.rec for ev in events for e in ev.entries] == journal

    uow = InMemoryLedgerUnitOfWork(db)
    assert asyncio.run(uow.balances.list()) == balances_of(events) == asyncio.run(uow.journal.totals())

    assert sorted(r.source_event_id for r in journal) == sorted(postable(batches))
    assert verify(journal).ok
