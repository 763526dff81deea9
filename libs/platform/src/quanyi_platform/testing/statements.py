"""Test helper: a pool whose connections count the statements a piece of code sends to Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


class CountingConnection(AsyncConnection[Any]):
    """Records every statement run through `execute` (psycopg's own BEGIN/COMMIT/SAVEPOINT aside), the
    first 70 characters of each, in `statements`. Shared by all counting connections: clear it first."""

    statements: ClassVar[list[str]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        CountingConnection.statements.append(str(query)[:70])
        return await super().execute(query, params, **kwargs)


@asynccontextmanager
async def counting_pool(database_url: str, schema: str) -> AsyncIterator[AsyncConnectionPool]:
    """A small pool on `schema` (as `db.create_pool` makes them) of CountingConnections."""
    pool: AsyncConnectionPool = AsyncConnectionPool(
        database_url,
        connection_class=CountingConnection,
        kwargs={"options": f"-c search_path={schema}", "row_factory": dict_row, "autocommit": False},
        min_size=1,
        max_size=2,
        open=False,
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()
