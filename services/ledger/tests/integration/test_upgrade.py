"""A journal posted before the ledger recorded EntriesPosted is announced once, and then replays to live."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.proto import source_of
from quanyi_ledger.application.upgrade import announce_unannounced
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.ledger import Chain, Post, decide
from quanyi_ledger.entrypoints.consumers import heard
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import deliver, fetch
from .facts import delivered, sale


async def post_without_events(pool: AsyncConnectionPool, store: EventStore) -> None:
    """What the ledger wrote before migration 002: journal entries, no EntriesPosted."""
    facts = [heard(ev) for ev in [*sale("o1", "web", 1000), delivered("o1", "web", 300), *sale("o2", "jd", 70)]]
    commands = [Post(e, f.correlation_id) for f in facts if (e := posting.entry_for(f.fact, f.source))]
    event = decide(Chain(), commands)
    assert event is not None
    async with PgLedgerUnitOfWork(store, pool=pool) as uow:
        await uow.journal.append(event)
        await uow.commit()


async def test_entries_posted_before_entries_posted_existed_are_announced_once_and_replay_to_live(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    await post_without_events(pool, store)
    before = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert "entries 1..5 are in the journal but no event announced them" in before.problems

    assert await announce_unannounced(PgLedgerUnitOfWork(store, pool=pool)) == 5
    assert await announce_unannounced(PgLedgerUnitOfWork(store, pool=pool)) == 0
    await deliver(pool, store, *sale("o3", "web", 5))  # posting carries on after them

    after = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert after.ok and after.entries == 7, after.problems
    versions = await fetch(pool, "SELECT aggregate_version FROM events ORDER BY seq")
    assert [v["aggregate_version"] for v in versions] == [5, 7]
    await assert_replay_matches_live(database_url, "ledger")


def test_the_source_of_a_fact_is_its_event_id_in_canonical_spelling() -> None:
    ev = sale("o1", "web", 1)[0]
    ev.envelope.event_id = ev.envelope.event_id.upper()
    assert source_of(ev.envelope).event_id == ev.envelope.event_id.lower()
