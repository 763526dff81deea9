"""Least privilege in Postgres: each service's role reaches its own schema only, and no service's role can
change the ledger's journal. Every case connects as the role itself, the way the service does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from quanyi_platform import roles
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database

pytestmark = pytest.mark.integration

SERVICES = roles.SERVICES


@pytest.fixture(scope="module")
def provisioned(pg_admin_url: str) -> Iterator[str]:
    """A fresh database set up as `quanyi migrate` sets it up, with one journal entry posted by the
    ledger's role."""
    import asyncio

    name = f"quanyi_test_{uuid.uuid4().hex[:16]}"
    create_database(pg_admin_url, name)
    url = database_url_for(pg_admin_url, name)
    try:
        asyncio.run(roles.provision(url))
        with psycopg.connect(roles.role_url(url, "ledger"), autocommit=True) as conn:
            _post_entry(conn)
        yield url
    finally:
        drop_database(pg_admin_url, name)


def _post_entry(conn: psycopg.Connection[Any]) -> None:
    """Append one balanced entry and its lines the way the ledger's poster does (one statement)."""
    conn.execute("SET search_path TO ledger")
    conn.execute(
        "WITH e AS (INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, occurred_at,"
        " prev_hash, hash) VALUES (1, %s, %s, 'test', now(), repeat('0', 64), repeat('a', 64)) RETURNING seq)"
        " INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency)"
        " SELECT seq, l.n, l.account, l.debit, l.credit, 'CNY' FROM e,"
        " (VALUES (1, 'cash', 100, 0), (2, 'revenue', 0, 100)) AS l (n, account, debit, credit)",
        (uuid.uuid4(), uuid.uuid4()),
    )


def _refused(url: str, statement: str | sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def _journal_count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM ledger.journal_entries").fetchone()
    assert row is not None
    return int(row[0])


def test_each_service_connects_as_a_role_of_its_own_that_owns_its_schema(provisioned: str) -> None:
    with psycopg.connect(provisioned, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT n.nspname, pg_get_userbyid(n.nspowner), r.rolsuper, r.rolcreaterole, r.rolcreatedb"
            " FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = ANY(%s)",
            (list(SERVICES),),
        ).fetchall()
        owners = {name: owner for name, owner, *_ in rows}
        assert owners == {
            s: ("quanyi_ledger_journal" if s == "ledger" else roles.role_for(s)) for s in SERVICES
        }
        assert not any(superuser or createrole or createdb for _, _, superuser, createrole, createdb in rows)
        # Every table of a service's schema but the journal belongs to the service's role.
        foreign = conn.execute(
            "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind = 'r'"
            " AND pg_get_userbyid(c.relowner) <> 'quanyi_' || n.nspname",
            (list(SERVICES),),
        ).fetchall()
        assert sorted(foreign) == [
            ("ledger", "journal_entries", "quanyi_ledger_journal"),
            ("ledger", "journal_lines", "quanyi_ledger_journal"),
        ]
    for service in SERVICES:
        with psycopg.connect(roles.role_url(provisioned, service), autocommit=True) as conn:
            row = conn.execute(
                sql.SQL("SELECT current_user, count(*) FROM {}.events").format(sql.Identifier(service))
            ).fetchone()
            assert row == (roles.role_for(service), 0)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_role_cannot_read_or_change_another_services_schema(provisioned: str, service: str) -> None:
    url = roles.role_url(provisioned, service)
    for other in SERVICES:
        if other == service:
            continue
        schema = sql.Identifier(other)
        _refused(url, sql.SQL("SELECT count(*) FROM {}.events").format(schema))
        _refused(url, sql.SQL("DELETE FROM {}.events").format(schema))
        _refused(url, sql.SQL("CREATE TABLE {}.intruder (x int)").format(schema))
    _refused(
        url,
        "SELECT count(*) FROM ledger.journal_entries"
        if service != "ledger"
        else "DROP SCHEMA ledger CASCADE",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE SCHEMA intruder")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder SUPERUSER")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")  # would silence every trigger


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger.journal_entries SET memo = 'changed'",
        "UPDATE ledger.journal_lines SET debit_minor = debit_minor + 1",
        "DELETE FROM ledger.journal_lines",
        "DELETE FROM ledger.journal_entries",
        "TRUNCATE ledger.journal_lines, ledger.journal_entries",
        "ALTER TABLE ledger.journal_entries DISABLE TRIGGER ALL",
        "ALTER TABLE ledger.journal_lines ADD COLUMN note text",
        "DROP TRIGGER journal_entries_append_only ON ledger.journal_entries",
        "DROP TABLE ledger.journal_lines",
        "ALTER TABLE ledger.journal_entries RENAME TO old_journal",
        "CREATE TRIGGER sneak BEFORE INSERT ON ledger.journal_lines"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger.journal_refuse_change()",
        "CREATE OR REPLACE FUNCTION ledger.journal_refuse_change() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "DROP SCHEMA ledger CASCADE",
    ],
)
def test_the_ledgers_own_role_cannot_update_delete_or_alter_the_journal(
    provisioned: str, statement: str
) -> None:
    before = _journal_count(provisioned)
    _refused(roles.role_url(provisioned, "ledger"), statement)
    assert _journal_count(provisioned) == before == 1


def test_the_ledgers_role_cannot_grant_itself_what_it_lacks(provisioned: str) -> None:
    url = roles.role_url(provisioned, "ledger")
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("GRANT UPDATE, DELETE, TRUNCATE ON ledger.journal_entries TO quanyi_ledger")
        except psycopg.errors.InsufficientPrivilege:
            pass  # Postgres only warns when the grantor holds no grant option on what it names
        row = conn.execute(
            "SELECT has_table_privilege('ledger.journal_entries', 'UPDATE, DELETE, TRUNCATE')"
        ).fetchone()
        assert row == (False,)
    _refused(url, "UPDATE ledger.journal_entries SET memo = 'changed'")


def test_the_ledgers_role_still_reads_and_appends_to_the_journal_and_owns_its_projections(
    provisioned: str,
) -> None:
    with psycopg.connect(roles.role_url(provisioned, "ledger"), autocommit=True) as conn:
        conn.execute("SET search_path TO ledger")
        row = conn.execute("SELECT count(*) FROM journal_lines").fetchone()
        assert row == (2,)
        conn.execute("TRUNCATE balances")  # replay's swap replaces a projection's rows this way
        conn.execute("CREATE TABLE ledger_scratch (x int)")
        conn.execute("DROP TABLE ledger_scratch")


def test_provisioning_again_changes_nothing_and_a_new_ledger_migration_may_still_change_the_journal(
    provisioned: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import asyncio
    import sys

    assert asyncio.run(roles.provision(provisioned)) == {s: [] for s in SERVICES}
    package = tmp_path_factory.mktemp("pkg")
    (package / "quanyi_test_ledger_extra").mkdir()
    (package / "quanyi_test_ledger_extra" / "__init__.py").write_text("")
    (package / "quanyi_test_ledger_extra" / "001_note.sql").write_text(
        "ALTER TABLE journal_entries ADD COLUMN note text NOT NULL DEFAULT '';"
    )
    sys.path.insert(0, str(package))
    try:
        applied = asyncio.run(
            roles.provision(
                provisioned,
                services=("ledger",),
                migrations={"ledger": ["quanyi_ledger.migrations", "quanyi_test_ledger_extra"]},
            )
        )
    finally:
        sys.path.remove(str(package))
    assert applied == {"ledger": ["quanyi_test_ledger_extra:001_note.sql"]}
    # The journal went back to its owner afterwards.
    _refused(roles.role_url(provisioned, "ledger"), "UPDATE ledger.journal_entries SET note = 'x'")
    with psycopg.connect(provisioned, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'ledger.journal_entries'::regclass"
        ).fetchone()
        assert row == ("quanyi_ledger_journal",)


def test_a_role_url_names_the_services_role_and_derives_its_password_from_the_admins() -> None:
    assert roles.role_url("postgresql://postgres@127.0.0.1:5432/quanyi", "orders") == (
        "postgresql://quanyi_orders@127.0.0.1:5432/quanyi"
    )
    url = roles.role_url("postgresql://admin:s3cret@db:5432/quanyi?sslmode=require", "risk")
    assert url == (
        f"postgresql://quanyi_risk:{roles.role_password('s3cret', 'quanyi_risk')}@db:5432/quanyi?sslmode=require"
    )
    assert "s3cret" not in url
    assert "user=quanyi_ledger" in roles.role_url("host=db dbname=quanyi user=postgres", "ledger")


async def test_a_database_migrated_before_roles_existed_is_handed_to_the_roles(database_url: str) -> None:
    from quanyi_platform import db

    for service in SERVICES:  # as every service did at start-up, connected as the superuser
        await db.migrate(database_url, service, [f"quanyi_{service}.migrations"])
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE orders.made_by_hand (x int)")
    assert await roles.provision(database_url) == {s: [] for s in SERVICES}
    with psycopg.connect(database_url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) AND c.relowner = 'postgres'::regrole",
            (list(SERVICES),),
        ).fetchall()
        assert left == []
    with psycopg.connect(roles.role_url(database_url, "orders"), autocommit=True) as conn:
        conn.execute("DROP TABLE orders.made_by_hand")
    _refused(roles.role_url(database_url, "ledger"), "DELETE FROM ledger.journal_lines")
    _refused(roles.role_url(database_url, "risk"), "SELECT count(*) FROM orders.events")
