"""The abuse limits' counters in Postgres (`rate_counters`, `login_failures`, `tightened_buyers`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi_platform.group_commit import GroupCommit

from quanyi_gateway.adapters.autocommit import autocommit
from quanyi_gateway.application.limits import Backoff, Count

# One round trip for a group of requests: count each bucket's hits in its current window (a bucket's hits
# of the whole group at once: one row is updated once per statement), read the buyers' tightening.
_HIT = """
WITH t AS (
    SELECT * FROM unnest(%(buckets)b::text[], %(windows)b::int[], %(hits)b::int[]) AS t(b, w, n)
), hit AS (
    INSERT INTO rate_counters AS c (bucket, window_start, hits)
    SELECT b, to_timestamp(floor(extract(epoch FROM now()) / w) * w), n FROM t
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + EXCLUDED.hits
    RETURNING bucket, hits, window_start
)
SELECT hit.bucket AS name, hit.hits, extract(epoch FROM hit.window_start - now()) + t.w AS resets_in_s,
       NULL::int AS factor
FROM hit JOIN t ON t.b = hit.bucket
UNION ALL
SELECT buyer_id, NULL, NULL, max(factor) FROM tightened_buyers
WHERE buyer_id = ANY(%(buyers)b::text[]) AND until > now() GROUP BY buyer_id
"""

# A request's hit: (its (bucket, window seconds) pairs, the buyer whose tightening it needs).
_Hit = tuple[Sequence[tuple[str, int]], str | None]


class PostgresLimitStore:
    """A LimitStore (see application.limits) on the gateway's Postgres schema.

    Concurrent requests' hits share one statement (quanyi_platform.group_commit, one group at a time):
    each bucket's row is counted up by the group's hits on it at once, and each request sees the count as
    if the group's requests had been counted one after the other, in arrival order. A busy bucket (every
    checkout from one address) is then updated once per group, not once per request in turn under its
    row lock; a lone request still pays one statement."""

    def __init__(self, pool: AsyncConnectionPool, *, max_group: int = 64) -> None:
        self._pool = pool
        self._hits: GroupCommit[_Hit, tuple[list[Count], int]] = GroupCommit(
            self._hit_all, max_group=max_group, max_in_flight=1
        )

    async def hit(self, buckets: Sequence[tuple[str, int]], buyer_id: str | None) -> tuple[list[Count], int]:
        return await self._hits.submit((buckets, buyer_id))

    async def _hit_all(self, hits: Sequence[_Hit]) -> list[tuple[list[Count], int] | Exception]:
        added: dict[str, int] = {}
        windows: dict[str, int] = {}
        for buckets, _ in hits:
            for bucket, window in buckets:
                added[bucket] = added.get(bucket, 0) + 1
                windows.setdefault(bucket, window)
        names = list(added)
        buyers = sorted({b for _, b in hits if b is not None})
        params = {"buckets": names, "windows": [windows[b] for b in names],
                  "hits": [added[b] for b in names], "buyers": buyers}
        async with autocommit(self._pool) as conn:  # every request pays it: one round trip, not three
            cur = await conn.execute(_HIT, params)
            rows: list[Any] = await cur.fetchall()
        totals: dict[str, tuple[int, float]] = {}
        factors: dict[str, int] = {}
        for r in rows:
            if r["hits"] is None:
                factors[r["name"]] = int(r["factor"])
            else:
                totals[r["name"]] = (r["hits"], float(r["resets_in_s"]))
        # Each request's count is the bucket's count before the group plus the group's hits up to its own.
        seen = {bucket: totals[bucket][0] - n for bucket, n in added.items()}
        outcomes: list[tuple[list[Count], int] | Exception] = []
        for buckets, buyer_id in hits:
            counts = []
            for bucket, _ in buckets:
                seen[bucket] += 1
                counts.append(Count(bucket, seen[bucket], totals[bucket][1]))
            outcomes.append((counts, factors.get(buyer_id, 1) if buyer_id is not None else 1))
        return outcomes

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
