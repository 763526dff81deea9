"""Buyers' refund requests in Postgres (`refund_requests`): a RefundRequestStore."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.application.model import RefundRequest

_COLUMNS = "request_id, order_id, buyer_id, reason, requested_at"
# A page's position, only when there is one: "IS NULL OR" around it would keep a prepared statement's generic
# plan from using it as an index condition (each page would scan from the newest row).
_BEFORE = " AND (requested_at, request_id) < (%s::timestamptz, %s::text)"


def _request(row: Any) -> RefundRequest:
    return RefundRequest(
        request_id=row["request_id"],
        order_id=row["order_id"],
        buyer_id=row["buyer_id"],
        reason=row["reason"],
        requested_at=row["requested_at"],
    )


class PostgresRefundRequestStore:
    """A RefundRequestStore (see application.ports) on the `refund_requests` table."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def add(self, request: RefundRequest) -> RefundRequest:
        async with self._pool.connection() as conn:
            # The order's first request wins; a later one reads it back.
            cur = await conn.execute(
                f"WITH added AS (INSERT INTO refund_requests ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
                f" ON CONFLICT (order_id) DO NOTHING RETURNING {_COLUMNS})"
                f" SELECT {_COLUMNS} FROM added"
                f" UNION ALL SELECT {_COLUMNS} FROM refund_requests WHERE order_id = %s LIMIT 1",
                (request.request_id, request.order_id, request.buyer_id, request.reason,
                 request.requested_at, request.order_id),
            )
            row = await cur.fetchone()
        if row is None:
            # A concurrent request committed first: the statement's snapshot predates it, a new one sees it.
            found = await self.of_order(request.order_id)
            assert found is not None
            return found
        return _request(row)

    async def of_order(self, order_id: str) -> RefundRequest | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM refund_requests WHERE order_id = %s", (order_id,)
            )
            row = await cur.fetchone()
        return _request(row) if row is not None else None

    async def of_orders(self, order_ids: Sequence[str]) -> list[RefundRequest]:
        if not order_ids:
            return []
        return await self._fetch(
            f"SELECT {_COLUMNS} FROM refund_requests WHERE order_id = ANY(%s::text[])", (list(order_ids),)
        )

    async def of_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[RefundRequest]:
        return await self._fetch(
            # refund_requests_buyer_keyset serves it: a page reads its rows and no more.
            f"SELECT {_COLUMNS} FROM refund_requests WHERE buyer_id = %s{_BEFORE if before else ''}"
            " ORDER BY requested_at DESC, request_id DESC LIMIT %s",
            (buyer_id, *(before or ()), limit),
        )

    async def latest(self, limit: int, before: tuple[datetime, str] | None = None) -> list[RefundRequest]:
        return await self._fetch(
            f"SELECT {_COLUMNS} FROM refund_requests WHERE TRUE{_BEFORE if before else ''}"
            " ORDER BY requested_at DESC, request_id DESC LIMIT %s",
            (*(before or ()), limit),
        )

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[RefundRequest]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
        return [_request(r) for r in rows]
