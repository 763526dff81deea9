"""The abuse limits' counters in Postgres (`rate_counters`, `login_failures`, `tightened_buyers`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.adapters.autocommit import autocommit
from quanyi_gateway.application.limits import Backoff, Count

# One round trip: count the request in every bucket's current window, read the buyer's tightening.
_HIT = """
WITH hit AS (
    INSERT INTO rate_counters AS c (bucket, window_start, hits)
    SELECT b, to_timestamp(floor(extract(epoch FROM now()) / w) * w), 1
    FROM unnest(%(buckets)s::text[], %(windows)s::int[]) AS t(b, w)
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING bucket, hits, window_start
)
SELECT hit.bucket, hit.hits,
       extract(epoch FROM hit.window_start - now()) + t.w AS resets_in_s,
       (SELECT max(factor) FROM tightened_buyers WHERE buyer_id = %(buyer)s AND until > now()) AS factor
FROM hit JOIN unnest(%(buckets)s::text[], %(windows)s::int[]) AS t(b, w) ON t.b = hit.bucket
"""


class PostgresLimitStore:
    """A LimitStore (see application.limits) on the gateway's Postgres schema."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def hit(self, buckets: Sequence[tuple[str, int]], buyer_id: str | None) -> tuple[list[Count], int]:
        params = {"buckets": [b for b, _ in buckets], "windows": [w for _, w in buckets], "buyer": buyer_id}
        async with autocommit(self._pool) as conn:  # every request pays it: one round trip, not three
            cur = await conn.execute(_HIT, params)
            rows: list[Any] = await cur.fetchall()
        counts = [Count(r["bucket"], r["hits"], float(r["resets_in_s"])) for r in rows]
        factor = next((r["factor"] for r in rows if r["factor"] is not None), 1)
        return counts, int(factor)

    async def login_locked_for(self, account: str) -> float:
        async with autocommit(self._pool) as conn:
            cur = await conn.execute(
                "SELECT extract(epoch FROM locked_until - now()) AS s FROM login_failures"
                " WHERE account = %s AND locked_until > now()",
                (account,),
            )
            row: Any = await cur.fetchone()
        return float(row["s"]) if row else 0.0

    async def login_failed(self, account: str, backoff: Backoff) -> float:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO login_failures AS f (account, failures, last_failed_at) VALUES (%s, 1, now())"
                " ON CONFLICT (account) DO UPDATE SET failures = f.failures + 1, last_failed_at = now()"
                " RETURNING failures",
                (account,),
            )
            row: Any = await cur.fetchone()
            lock_s = backoff.lock_s(row["failures"])
            if lock_s > 0:
                await conn.execute(
                    "UPDATE login_failures SET locked_until = now() + make_interval(secs => %s)"
                    " WHERE account = %s",
                    (lock_s, account),
                )
        return lock_s

    async def login_succeeded(self, account: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM login_failures WHERE account = %s", (account,))

    async def unlock(self, account: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM login_failures WHERE account = %s", (account,))
            found = cur.rowcount > 0
            cur = await conn.execute(
                "DELETE FROM rate_counters WHERE bucket = %s", (f"login:account:{account}",)
            )
            return found or cur.rowcount > 0

    async def tighten(self, buyer_id: str, factor: int, until: datetime, reason: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO tightened_buyers AS t (buyer_id, factor, until, reason) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (buyer_id) DO UPDATE SET factor = greatest(t.factor, EXCLUDED.factor),"
                " until = greatest(t.until, EXCLUDED.until), reason = EXCLUDED.reason",
                (buyer_id, factor, until, reason),
            )

    async def purge(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM rate_counters WHERE window_start < now() - interval '1 day'"
            )
            n = cur.rowcount
            await conn.execute("DELETE FROM tightened_buyers WHERE until < now()")
            return n
