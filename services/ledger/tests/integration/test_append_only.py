"""Append-only, provably: a service's own role cannot change the journal or take its guard away; a row
changed by the superuser is named by verify; a journal changed and re-chained verifies by itself but not
against a chain head signed before the change."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import pytest
from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.signing import signature_valid
from quanyi_ledger.application.signing import head_statement
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.domain.chain import chain_hash
from quanyi_platform.eventstore import EventStore

from .conftest import deliver
from .facts import delivered, sale


@pytest.fixture
async def service_role(database_url: str, pool: AsyncConnectionPool) -> AsyncIterator[str]:
    """A role like a service's own: it may read and append to the journal; it was even (wrongly) granted
    UPDATE and DELETE, to show the triggers refuse them anyway."""
    role = f"ledger_svc_{uuid.uuid4().hex[:12]}"
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"CREATE ROLE {role} NOLOGIN")
        await conn.execute(f"GRANT USAGE ON SCHEMA ledger TO {role}")
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ledger.journal_entries, ledger.journal_lines TO {role}"
        )
    try:
        yield role
    finally:
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(f"DROP OWNED BY {role}")
            await conn.execute(f"DROP ROLE {role}")


async def as_role(database_url: str, role: str, statement: str) -> None:
    async with await AsyncConnection.connect(database_url) as conn:
        await conn.execute("SET search_path TO ledger")
        await conn.execute(f"SET ROLE {role}")
        await conn.execute(statement)


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE journal_lines SET credit_minor = credit_minor + 1", errors.RaiseException),
        ("DELETE FROM journal_entries WHERE seq = 1", errors.RaiseException),
        ("UPDATE journal_entries SET memo = 'x' WHERE false", errors.RaiseException),
        ("TRUNCATE journal_lines", errors.InsufficientPrivilege),
        ("DROP TRIGGER journal_lines_append_only ON journal_lines", errors.InsufficientPrivilege),
        ("ALTER TABLE journal_entries DISABLE TRIGGER USER", errors.InsufficientPrivilege),
        ("ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_append_only", errors.InsufficientPrivilege),
        ("DROP TABLE journal_lines", errors.InsufficientPrivilege),
        ("CREATE OR REPLACE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql"
         " AS $$ BEGIN RETURN NULL; END $$", errors.InsufficientPrivilege),
    ],
)
async def test_a_service_role_cannot_change_the_journal_or_take_its_guard_away(
    pool: AsyncConnectionPool, store: EventStore, database_url: str, service_role: str,
    statement: str, refusal: type[Exception],
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000))
    with pytest.raises(refusal):
        await as_role(database_url, service_role, statement)
    # The role can still read, and the journal is intact.
    async with await AsyncConnection.connect(database_url) as conn:
        await conn.execute("SET search_path TO ledger")
        await conn.execute(f"SET ROLE {service_role}")
        cur = await conn.execute("SELECT count(*) FROM journal_lines")
        assert (await cur.fetchone()) == (4,)
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok and result.entries == 2


async def superuser(database_url: str, *statements: str) -> None:
    """What only the superuser (or the journal's owner) can do: switch the guard off, change rows."""
    async with await AsyncConnection.connect(database_url) as conn:
        await conn.execute("SET search_path TO ledger")
        await conn.execute("ALTER TABLE journal_entries DISABLE TRIGGER USER")
        await conn.execute("ALTER TABLE journal_lines DISABLE TRIGGER USER")
        for s in statements:
            await conn.execute(s)
        await conn.execute("ALTER TABLE journal_entries ENABLE TRIGGER USER")
        await conn.execute("ALTER TABLE journal_lines ENABLE TRIGGER USER")
        await conn.commit()


async def test_a_row_altered_by_the_superuser_is_named_by_verify_as_the_first_broken_link(
    pool: AsyncConnectionPool, store: EventStore, database_url: str, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), *sale("o2", "web", 500), delivered("o2", "web", 70))
    await superuser(database_url, "UPDATE journal_entries SET occurred_at = occurred_at - interval '1 day'"
                    " WHERE seq = 3")
    result = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert not result.ok
    assert result.problems[0] == "entry 3 was changed after it was posted (hash differs)"


async def test_a_journal_rewritten_and_rechained_is_caught_by_the_head_signed_before(
    pool: AsyncConnectionPool, store: EventStore, database_url: str, ledger: pb_grpc.LedgerServiceStub
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), *sale("o2", "web", 500))
    signed = await ledger.SignChainHead(pb.SignChainHeadRequest(actor="admin:auditor"))
    head = signed.head
    assert head.seq == 4
    assert signature_valid(head.public_key, signed.statement, head.signature)
    assert signed.statement == head_statement(head.seq, head.hash, head.signed_at.ToDatetime(tzinfo=UTC))
    forged = signed.statement.replace(b'"seq":4', b'"seq":5')
    assert not signature_valid(head.public_key, forged, head.signature)

    # Move entry 2 a day back and re-chain everything from it, as someone hiding it would.
    uow = PgLedgerUnitOfWork(store, pool=pool)
    async with uow:
        entries = [e.rec async for e in uow.journal.entries()]
    prev = entries[0].hash
    statements = []
    for rec in entries[1:]:
        occurred = rec.occurred_at - timedelta(days=1) if rec.seq == 2 else rec.occurred_at
        new_hash = chain_hash(prev, rec.seq, rec.kind, rec.source_event_id, occurred, rec.lines, rec.reference)
        statements.append(
            f"UPDATE journal_entries SET occurred_at = '{occurred.isoformat()}', prev_hash = '{prev}',"
            f" hash = '{new_hash}' WHERE seq = {rec.seq}"
        )
        prev = new_hash
    await superuser(database_url, *statements)

    alone = await ledger.VerifyJournal(pb.VerifyJournalRequest())
    assert alone.ok, list(alone.problems)  # the chain by itself is consistent again
    against = await ledger.VerifyJournal(pb.VerifyJournalRequest(head_seq=head.seq, head_hash=head.hash))
    assert not against.ok
    assert list(against.problems) == ["entry 4 differs from the signed head: the journal was rewritten up to it"]
