"""Idempotency keys in Postgres (the `idempotency_keys` table): an IdempotencyStore."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.adapters.autocommit import autocommit
from quanyi_gateway.application.idempotency import Claim, StoredResponse


class PostgresIdempotencyStore:
    """An IdempotencyStore (see application.idempotency). A claim is an insert, which wins for a new key
    (the common case: one statement, committed by itself), else one transaction that reads the key's row
    FOR UPDATE and decides on it, so two claimants of one key are serialised by the row lock. Completing,
    releasing and purging are one statement each."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def claim(
        self, owner: str, key: str, fingerprint: bytes, ttl: timedelta, lease: timedelta
    ) -> Claim:
        async with autocommit(self._pool) as conn:
            cur = await conn.execute(
                "INSERT INTO idempotency_keys (owner, key, request_sha256, created_at, locked_until)"
                " VALUES (%s, %s, %s, now(), now() + %s) ON CONFLICT DO NOTHING RETURNING created_at",
                (owner, key, fingerprint, lease),
            )
            inserted: Any = await cur.fetchone()
            if inserted is not None:
                return Claim("run", generation=inserted["created_at"])
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT request_sha256, created_at, locked_until, status_code, content_type, body,"
                    " now() AS now FROM idempotency_keys WHERE owner = %s AND key = %s FOR UPDATE",
                    (owner, key),
                )
                row: Any = await cur.fetchone()
                if row is None:  # deleted (released) since the insert looked: try again
                    return Claim("busy")
                if row["created_at"] <= row["now"] - ttl:
                    cur = await conn.execute(
                        "UPDATE idempotency_keys SET request_sha256 = %s, created_at = now(),"
                        " locked_until = now() + %s, status_code = NULL, content_type = NULL, body = NULL"
                        " WHERE owner = %s AND key = %s RETURNING created_at",
                        (fingerprint, lease, owner, key),
                    )
                    renewed: Any = await cur.fetchone()
                    return Claim("run", generation=renewed["created_at"])
                if bytes(row["request_sha256"]) != fingerprint:
                    return Claim("mismatch")
                if row["status_code"] is not None:
                    response = StoredResponse(row["status_code"], row["content_type"], bytes(row["body"]))
                    return Claim("replay", response=response)
                if row["locked_until"] <= row["now"]:
                    await conn.execute(
                        "UPDATE idempotency_keys SET locked_until = now() + %s WHERE owner = %s AND key = %s",
                        (lease, owner, key),
                    )
                    return Claim("run", generation=row["created_at"])
                return Claim("busy")

    async def complete(self, owner: str, key: str, generation: datetime, response: StoredResponse) -> None:
        async with autocommit(self._pool) as conn:
            await conn.execute(
                "UPDATE idempotency_keys SET status_code = %s, content_type = %s, body = %s"
                " WHERE owner = %s AND key = %s AND created_at = %s",
                (response.status, response.content_type, response.body, owner, key, generation),
            )

    async def release(self, owner: str, key: str, generation: datetime) -> None:
        async with autocommit(self._pool) as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE owner = %s AND key = %s AND created_at = %s"
                " AND status_code IS NULL",
                (owner, key, generation),
            )

    async def purge(self, ttl: timedelta) -> int:
        async with autocommit(self._pool) as conn:
            cur = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < now() - %s", (ttl,))
            return cur.rowcount
