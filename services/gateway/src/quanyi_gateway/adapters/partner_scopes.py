"""Partners' SKUs in Postgres (`partner_skus`): a PartnerScopes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class PostgresPartnerScopes:
    """A PartnerScopes (see application.ports) on the `partner_skus` table."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def skus_of(self, partner: str) -> frozenset[str]:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT sku_id FROM partner_skus WHERE partner = %s", (partner,))
            rows: list[Any] = await cur.fetchall()
        return frozenset(row["sku_id"] for row in rows)

    async def replace(self, partner: str, sku_ids: Sequence[str]) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM partner_skus WHERE partner = %s AND NOT (sku_id = ANY(%s))",
                (partner, list(sku_ids)),
            )
            await self._insert(conn, partner, sku_ids)

    async def grant(self, partner: str, sku_ids: Sequence[str]) -> None:
        async with self._pool.connection() as conn:
            await self._insert(conn, partner, sku_ids)

    @staticmethod
    async def _insert(conn: AsyncConnection[Any], partner: str, sku_ids: Sequence[str]) -> None:
        await conn.execute(
            "INSERT INTO partner_skus (partner, sku_id) SELECT %s, unnest(%s::text[])"
            " ON CONFLICT DO NOTHING",
            (partner, sorted(set(sku_ids))),
        )
