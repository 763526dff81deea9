"""Least privilege in Postgres: one role per service, and a journal no service can change.

The layout, for every quanyi database:

- Each service connects as its own login role, ``quanyi_<service>``. It owns its schema and everything in
  it, and has no privilege on any other schema: it can neither read nor change another service's tables.
  The roles are not superusers, create no databases or roles, and are members of nothing.
- The ledger's journal (``journal_entries``, ``journal_lines``), the trigger functions that keep it
  append-only and hash-chained, and the ``ledger`` schema itself belong to ``quanyi_ledger_journal``, a role
  nobody logs in as. The ledger's role may read and append to the journal (SELECT, INSERT) and owns every
  other object in its schema; it cannot UPDATE, DELETE or TRUNCATE the journal, alter or drop it, drop or
  disable its triggers, replace their functions, or drop the schema with the journal in it.

`provision(admin_url)` sets this up with a privileged connection (a superuser, or a role with CREATEROLE
that may become the roles it creates): it creates the roles, creates each schema for its owner (or hands
an existing one and its objects over), applies each service's migrations as the service's role, and hands
the journal to its owner. It is idempotent and safe to run while the services run; `quanyi migrate`,
`quanyi dev` (`make run`) and the end-to-end harness run it. Roles are cluster-wide, so many databases on
one server (the tests' fresh databases) share them.

Passwords: with a password in the admin URL, each role's password is derived from it
(``role_password``), so that every process that knows the admin URL agrees on them without storing any;
without one (trust or peer authentication, as in development and tests) the roles get none. In a cluster
the operator declares the roles with their own secrets instead (deploy/k8s, CloudNativePG managed roles).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from quanyi_platform import db

__all__ = [
    "JOURNAL",
    "SERVICES",
    "AppendOnly",
    "ProvisionError",
    "provision",
    "role_for",
    "role_password",
    "role_url",
]

log = logging.getLogger(__name__)

SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk", "gateway")
ROLE_PREFIX = "quanyi_"
PROVISION_LOCK = db.MIGRATION_LOCK + 1


@dataclass(frozen=True)
class AppendOnly:
    """Tables of `schema` that belong to `owner`, a role no service can log in as or become. The service's
    role may only read and append to them; `owner` also owns the schema (a schema's owner may drop it with
    everything in it) and the functions of the tables' triggers, and the service's role may create in it."""

    schema: str
    tables: tuple[str, ...]
    owner: str


JOURNAL = AppendOnly("ledger", ("journal_entries", "journal_lines"), "quanyi_ledger_journal")
APPEND_ONLY: dict[str, AppendOnly] = {JOURNAL.schema: JOURNAL}

_ROLE_ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


class ProvisionError(RuntimeError):
    """The admin connection may not set the roles up."""


def role_for(service: str) -> str:
    """The login role of `service`: ``quanyi_orders`` for orders."""
    return f"{ROLE_PREFIX}{service}"


def role_password(admin_password: str, role: str) -> str:
    """The password `provision` gives `role` when the admin URL has `admin_password`."""
    return hmac.new(admin_password.encode(), role.encode(), hashlib.sha256).hexdigest()


def role_url(admin_url: str, service: str) -> str:
    """`admin_url` with the user (and password) of `service`'s role: what the service connects with."""
    role = role_for(service)
    params = conninfo_to_dict(admin_url)
    admin_password = params.get("password")
    password = role_password(str(admin_password), role) if admin_password else None
    if admin_url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(admin_url)
        host = parts.netloc.rpartition("@")[2]
        userinfo = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
        return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))
    extra: dict[str, Any] = {"user": role}
    if password:
        extra["password"] = password
    return make_conninfo(admin_url, **extra)


async def provision(
    admin_url: str,
    services: Sequence[str] = SERVICES,
    migrations: dict[str, Sequence[str]] | None = None,
) -> dict[str, list[str]]:
    """Create the roles, schemas and grants of `services` in the database of `admin_url`, and apply each
    service's migrations (`migrations[service]`, by default ``quanyi_<service>.migrations``) as its role.
    Returns the migrations applied now, per service."""
    migrations = migrations or {}
    applied: dict[str, list[str]] = {}
    admin_password = conninfo_to_dict(admin_url).get("password")
    async with await AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await _check_admin(conn)
        owners = {a.owner for name, a in APPEND_ONLY.items() if name in services}
        for owner in sorted(owners):
            await _ensure_role(conn, owner, login=False, password=None)
        for service in services:
            role = role_for(service)
            password = role_password(str(admin_password), role) if admin_password else None
            await _ensure_role(conn, role, login=True, password=password)
        for service in services:
            packages = list(migrations.get(service, [f"quanyi_{service}.migrations"]))
            applied[service] = await _provision_schema(conn, admin_url, service, packages)
    return applied


async def _check_admin(conn: AsyncConnection[tuple[Any, ...]]) -> None:
    cur = await conn.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    row = await cur.fetchone()
    if row is None or not (row[0] or row[1]):
        raise ProvisionError(
            "the database URL's role may not create roles; quanyi migrate needs a superuser (or a role with "
            "CREATEROLE) to give each service its own role"
        )


async def _ensure_role(
    conn: AsyncConnection[tuple[Any, ...]], role: str, *, login: bool, password: str | None
) -> None:
    """Create `role` or bring its attributes in line. Roles are cluster-wide and many test databases are
    provisioned at once: a concurrent creation is not an error, and an ALTER runs only when something
    differs (two concurrent ALTERs of one role can fail with "tuple concurrently updated")."""
    attributes = sql.SQL(f"{'LOGIN' if login else 'NOLOGIN'} {_ROLE_ATTRIBUTES}")
    cur = await conn.execute(
        "SELECT rolcanlogin, rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls"
        " OR rolinherit FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    row = await cur.fetchone()
    if row is None:
        try:
            await conn.execute(sql.SQL("CREATE ROLE {} ").format(sql.Identifier(role)) + attributes)
            log.info("role created", extra={"role": role})
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass
    elif row[0] != login or row[1]:
        await conn.execute(sql.SQL("ALTER ROLE {} ").format(sql.Identifier(role)) + attributes)
    if password is not None:
        try:
            cur = await conn.execute(
                "SELECT 1 FROM pg_authid WHERE rolname = %s AND rolpassword IS NOT NULL", (role,)
            )
            has_password = await cur.fetchone() is not None
        except psycopg.errors.InsufficientPrivilege:  # pg_authid is for superusers only
            has_password = False
        if not has_password:
            await conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )


async def _provision_schema(
    conn: AsyncConnection[tuple[Any, ...]], admin_url: str, service: str, packages: list[str]
) -> list[str]:
    role = role_for(service)
    append_only = APPEND_ONLY.get(service)
    schema_owner = append_only.owner if append_only else role
    # Provisioners of one database take turns (db.migrate, on a connection of its own, takes the migration
    # lock inside this one; services migrating at start-up take only that).
    await conn.execute("SELECT pg_advisory_lock(%s)", (PROVISION_LOCK,))
    try:
        cur = await conn.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (service,)
        )
        row = await cur.fetchone()
        schema = sql.Identifier(service)
        if row is None:
            await conn.execute(
                sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(schema, sql.Identifier(schema_owner))
            )
        elif row[0] != schema_owner:
            await conn.execute(
                sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema, sql.Identifier(schema_owner))
            )
        await conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
        if append_only is not None:
            await conn.execute(
                sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(schema, sql.Identifier(role))
            )
        await _reassign(conn, service, role, keep=append_only)
        pending = await db.pending_migrations(conn, service, packages)
        if pending and append_only is not None:
            # The migrations may change the journal: its owner lends it back to the ledger's role meanwhile.
            await _hand_over(conn, append_only, role, to_owner=False)
        applied = await db.migrate(admin_url, service, packages, role=role) if pending else []
        if append_only is not None:
            await _hand_over(conn, append_only, role, to_owner=True)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (PROVISION_LOCK,))
    return applied


async def _reassign(
    conn: AsyncConnection[tuple[Any, ...]], schema: str, role: str, keep: AppendOnly | None
) -> None:
    """Hand `role` whatever in `schema` someone else owns: a database migrated before roles existed, or by
    a superuser. The append-only tables and their trigger functions stay with their owner."""
    kept_tables = list(keep.tables) if keep else []
    cur = await conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
        " AND c.relowner <> to_regrole(%s) AND NOT (c.relname = ANY(%s))"
        # Sequences owned by a column follow their table.
        " AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid"
        "  AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))",
        (schema, role, kept_tables),
    )
    kinds = {
        "r": "TABLE",
        "p": "TABLE",
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "f": "FOREIGN TABLE",
        "S": "SEQUENCE",
    }
    for name, kind in await cur.fetchall():
        await conn.execute(
            sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                sql.SQL(kinds[kind]), sql.Identifier(schema), sql.Identifier(name), sql.Identifier(role)
            )
        )
    kept_functions = await _trigger_functions(conn, keep) if keep else []
    cur = await conn.execute(
        "SELECT p.oid::regprocedure::text, p.prokind FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s"
        " AND p.proowner <> to_regrole(%s) AND NOT (p.oid::regprocedure::text = ANY(%s))",
        (schema, role, kept_functions),
    )
    for signature, kind in await cur.fetchall():
        what = "PROCEDURE" if kind == "p" else "AGGREGATE" if kind == "a" else "FUNCTION"
        await conn.execute(
            sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(what), sql.SQL(signature), sql.Identifier(role))
        )
    cur = await conn.execute(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
        " WHERE n.nspname = %s AND t.typtype IN ('e', 'd', 'r') AND t.typowner <> to_regrole(%s)",
        (schema, role),
    )
    for (name,) in await cur.fetchall():
        await conn.execute(
            sql.SQL("ALTER TYPE {}.{} OWNER TO {}").format(
                sql.Identifier(schema), sql.Identifier(name), sql.Identifier(role)
            )
        )


async def _trigger_functions(conn: AsyncConnection[tuple[Any, ...]], append_only: AppendOnly) -> list[str]:
    """The functions the tables' own (not constraint-internal) triggers call, as ``schema.name(args)``."""
    cur = await conn.execute(
        "SELECT DISTINCT t.tgfoid::regprocedure::text FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND NOT t.tgisinternal AND pn.nspname = %s",
        (append_only.schema, list(append_only.tables), append_only.schema),
    )
    return [row[0] for row in await cur.fetchall()]


async def _hand_over(
    conn: AsyncConnection[tuple[Any, ...]], append_only: AppendOnly, role: str, *, to_owner: bool
) -> None:
    """Give the append-only tables and their trigger functions to their owner, leaving `role` SELECT and
    INSERT (`to_owner`), or lend them back to `role` for a migration. Only what is not already with the
    new owner is altered (ALTER ... OWNER locks the table, even to the owner it has)."""
    owner = append_only.owner if to_owner else role
    schema = sql.Identifier(append_only.schema)
    cur = await conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relowner <> to_regrole(%s) ORDER BY c.relname",
        (append_only.schema, list(append_only.tables), owner),
    )
    tables = [row[0] for row in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT DISTINCT p.oid::regprocedure::text FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND NOT t.tgisinternal AND pn.nspname = %s"
        " AND p.proowner <> to_regrole(%s)",
        (append_only.schema, list(append_only.tables), append_only.schema, owner),
    )
    functions = [row[0] for row in await cur.fetchall()]
    for table in tables:
        await conn.execute(
            sql.SQL("ALTER TABLE {}.{} OWNER TO {}").format(
                schema, sql.Identifier(table), sql.Identifier(owner)
            )
        )
    for signature in functions:
        await conn.execute(
            sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(sql.SQL(signature), sql.Identifier(owner))
        )
    if to_owner and tables:
        names = sql.SQL(", ").join(sql.SQL("{}.{}").format(schema, sql.Identifier(t)) for t in tables)
        await conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(names, sql.Identifier(role)))
        await conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(names, sql.Identifier(role)))
