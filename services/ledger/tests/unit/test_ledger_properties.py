"""Property: whatever facts arrive, in whatever batches, folding the recorded events gives the ledger's state.

Random postings run through the application (post_facts) on the in-memory unit of work; afterwards the
chain folded from the EntriesPosted events equals the journal's end, the balances folded from them equal
the balances read model and the journal's own sums, every fact is posted once, and the chain verifies.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.adapters.proto import entries_posted_of
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.chain import verify
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.ledger import Chain, balances_of, fold

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHANNELS = ["web", "tmall", "jd", ""]
CURRENCIES = ["CNY", "USD"]

money = st.builds(Money, st.integers(min_value=0, max_value=10_000), st.sampled_from(CURRENCIES))
order_ids = st.sampled_from([f"o{i}" for i in range(6)])
facts = st.one_of(
    st.builds(posting.PaymentCaptured, order_ids, st.just("psp-sim"), st.text(max_size=4), money),
    st.builds(posting.OrderPaid, order_ids, st.sampled_from(CHANNELS), money),
    st.builds(posting.OrderRefunded, order_ids, st.sampled_from(CHANNELS), money, st.booleans()),
    st.builds(posting.KeyDelivered, order_ids, st.sampled_from(CHANNELS), st.lists(money, max_size=4)),
)


@st.composite
def heard_facts(draw: st.DrawFn) -> list[list[HeardFact]]:
    """Batches of facts; some are heard again (a redelivery under the same event id)."""
    batches: list[list[HeardFact]] = []
    heard: list[HeardFact] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        batch = []
        for _ in range(draw(st.integers(min_value=0, max_value=6))):
            if heard and draw(st.integers(min_value=0, max_value=4)) == 0:
                batch.append(draw(st.sampled_from(heard)))
                continue
            fact = draw(facts)
            source = posting.Source(str(uuid.UUID(int=len(heard) + 1)), T0 + timedelta(seconds=len(heard)))
            h = HeardFact(fact, source, fact.order_id)
            heard.append(h)
            batch.append(h)
        batches.append(batch)
    return batches


async def run(batches: list[list[HeardFact]]) -> InMemoryLedger:
    db = InMemoryLedger()
    for batch in batches:
        await post_facts(InMemoryLedgerUnitOfWork(db), batch)
    return db


@settings(max_examples=150, deadline=None)
@given(heard_facts())
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

    postable = {
        h.source.event_id for batch in batches for h in batch if posting.entry_for(h.fact, h.source) is not None
    }
    assert sorted(r.source_event_id for r in journal) == sorted(postable)
    assert verify(journal).ok
