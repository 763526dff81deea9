"""Partner nonces in Postgres: the replay guard of signed partner callbacks."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import AsyncConnectionPool


class PostgresNonceStore:
    """A NonceStore (see security.py) that keeps nonces for `retention` and then forgets them.

    A nonce may be forgotten once any request carrying it would be refused as stale anyway: with a
    clock skew of S seconds each way, that is 2·S after it was first seen.
    """

    def __init__(self, pool: AsyncConnectionPool, retention: timedelta) -> None:
        self._pool = pool
        self._retention = retention

    async def remember(self, partner: str, nonce: str) -> bool:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM partner_nonces WHERE seen_at < now() - %s", (self._retention,))
            cur = await conn.execute(
                "INSERT INTO partner_nonces (partner, nonce) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (partner, nonce),
            )
            return cur.rowcount == 1
