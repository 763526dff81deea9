"""A pooled connection in autocommit: a lone statement is one round trip instead of three."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


@asynccontextmanager
async def autocommit(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection of `pool` on which each statement commits by itself: no BEGIN and COMMIT round trips
    around a single statement (the pool's connections otherwise open a transaction implicitly).
    `conn.transaction()` inside still makes several statements one transaction. The connection goes back
    to the pool as it came (autocommit off), or closed (the pool then drops it) when it cannot be reset."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            if not conn.closed:
                try:
                    await conn.set_autocommit(False)
                except Exception:
                    await conn.close()
