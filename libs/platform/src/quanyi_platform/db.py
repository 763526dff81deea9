"""Postgres: one pool per service, bound to the service's own schema, and schema migrations."""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

MIGRATION_LOCK = 7_104_201


async def create_pool(
    database_url: str, schema: str, min_size: int = 2, max_size: int = 10
) -> AsyncConnectionPool:
    """Open a pool whose connections see only `schema` (and public) on their search path.

    A service never reads another service's tables: the search path is the service's schema, and
    queries name no other schema.
    """
    pool: AsyncConnectionPool = AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        # application_name: pg_stat_activity and the server's log say which service a connection is.
        kwargs={
            # jit=off: a service's statements touch a batch's rows, yet a claim or a set-wise projection
            # can be estimated above jit_above_cost (a LIMIT taken from a column counts as 10% of the
            # table), and compiling it cost ~50 ms for ~2 ms of work (inventory's allocation).
            "options": f"-c search_path={schema} -c jit=off",
            "application_name": f"quanyi-{schema}",
            "row_factory": dict_row,
            "autocommit": False,
        },
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


def _read_migrations(package: str) -> list[tuple[str, str]]:
    root = importlib.resources.files(package)
    files = sorted((p.name, p.read_text("utf-8")) for p in root.iterdir() if p.name.endswith(".sql"))
    return files


async def migrate(
    database_url: str, schema: str, packages: Sequence[str], *, role: str | None = None
) -> list[str]:
    """Create `schema` and apply, in name order, every `*.sql` file of each package not applied yet.

    The platform's own tables (events, inbox, relay state, dead letters) come from
    `quanyi_platform.migrations` and are applied first. Concurrent callers serialise on an advisory lock,
    so every service may migrate at start-up. Returns the names applied now.

    With `role`, the migrations run as that role (``SET ROLE``), so what they create belongs to it; this is
    how `quanyi_platform.roles.provision` migrates each service as the service's own role. A schema that
    exists already is not created again, so a service role that may not create schemas can still migrate
    its own.
    """
    applied_now: list[str] = []
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            if role is not None:
                await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            cur = await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if await cur.fetchone() is None:
                await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for package in ["quanyi_platform.migrations", *packages]:
                for name, text in _read_migrations(package):
                    key = f"{package}:{name}"
                    if key in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(text.encode())
                        await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (key,))
                    applied_now.append(key)
                    log.info("migration applied", extra={"migration": key, "schema": schema})
        finally:
            if role is not None:
                await conn.execute("RESET ROLE")
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now


async def pending_migrations(
    conn: AsyncConnection[tuple[Any, ...]], schema: str, packages: Sequence[str]
) -> list[str]:
    """The migrations of `packages` (and the platform's) that `schema` has not applied yet."""
    cur = await conn.execute(
        "SELECT to_regclass(format('%%I.schema_migrations', %s::text)) IS NOT NULL", (schema,)
    )
    row = await cur.fetchone()
    done: set[str] = set()
    if row is not None and row[0]:
        cur = await conn.execute(
            sql.SQL("SELECT name FROM {}.schema_migrations").format(sql.Identifier(schema))
        )
        done = {r[0] for r in await cur.fetchall()}
    return [
        f"{package}:{name}"
        for package in ["quanyi_platform.migrations", *packages]
        for name, _ in _read_migrations(package)
        if f"{package}:{name}" not in done
    ]
