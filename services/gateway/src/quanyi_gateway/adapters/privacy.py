"""Contacts and erasure on the gateway's tables (PrivacyStore), and an in-memory fake of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.adapters.autocommit import autocommit
from quanyi_gateway.application.privacy import Erasure, KnownBuyers

# An account-scoped rate counter's bucket ends with ":account:<address>" (application.limits).
_ACCOUNT_BUCKET = ":account:"


class PostgresPrivacyStore:
    """A PrivacyStore on `users`, `login_failures`, `rate_counters` and `erasures`."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def look_up(self, buyer_ids: Sequence[uuid.UUID]) -> KnownBuyers:
        async with autocommit(self._pool) as conn:  # once per e-mail round of every fulfillment sender
            # The kept targets come in the same read, as JSON text (a primary-key probe per buyer).
            cur = await conn.execute(
                "SELECT u.user_id AS id, u.email, (SELECT json_agg(json_build_array(t.channel, t.target)"
                " ORDER BY t.channel)::text FROM delivery_targets t WHERE t.buyer_id = u.user_id) AS targets"
                " FROM users u WHERE u.user_id = ANY(%(ids)s) AND u.role = 'buyer'"
                " UNION ALL SELECT buyer_id, NULL, NULL FROM erasures WHERE buyer_id = ANY(%(ids)s)",
                {"ids": list(buyer_ids)},
            )
            rows: list[Any] = await cur.fetchall()
        return KnownBuyers(
            {r["id"]: r["email"] for r in rows if r["email"] is not None},
            {r["id"] for r in rows if r["email"] is None},
            {r["id"]: tuple((c, t) for c, t in json.loads(r["targets"])) for r in rows if r["targets"]},
        )

    async def erase(self, buyer_id: uuid.UUID, requested_by: str, at: datetime) -> Erasure | None:
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM users WHERE user_id = %s AND role = 'buyer' RETURNING email", (buyer_id,)
            )
            row: Any = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "SELECT buyer_id, erased_at, requested_by FROM erasures WHERE buyer_id = %s", (buyer_id,)
                )
                done: Any = await cur.fetchone()
                return Erasure(done["buyer_id"], done["erased_at"], done["requested_by"]) if done else None
            email = row["email"]
            # The buyer's delivery targets went with the account (ON DELETE CASCADE); said here too.
            await conn.execute("DELETE FROM delivery_targets WHERE buyer_id = %s", (buyer_id,))
            await conn.execute("DELETE FROM login_failures WHERE account = %s", (email,))
            await conn.execute(
                "DELETE FROM rate_counters WHERE right(bucket, %s) = %s",
                (len(_ACCOUNT_BUCKET) + len(email), _ACCOUNT_BUCKET + email),
            )
            await conn.execute(
                "INSERT INTO erasures (buyer_id, erased_at, requested_by) VALUES (%s, %s, %s)",
                (buyer_id, at, requested_by),
            )
        return Erasure(buyer_id, at, requested_by)


@dataclass
class InMemoryPrivacyStore:
    """The fake: buyers' addresses by id, and the erasures."""

    buyers: dict[uuid.UUID, str] = field(default_factory=dict)
    erasures: dict[uuid.UUID, Erasure] = field(default_factory=dict)
    targets: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)

    async def look_up(self, buyer_ids: Sequence[uuid.UUID]) -> KnownBuyers:
        return KnownBuyers(
            {b: self.buyers[b] for b in buyer_ids if b in self.buyers},
            {b for b in buyer_ids if b in self.erasures},
            {
                b: tuple(sorted(self.targets[b].items()))
                for b in buyer_ids
                if b in self.buyers and self.targets.get(b)
            },
        )

    async def erase(self, buyer_id: uuid.UUID, requested_by: str, at: datetime) -> Erasure | None:
        if buyer_id in self.erasures:
            return self.erasures[buyer_id]
        if self.buyers.pop(buyer_id, None) is None:
            return None
        self.targets.pop(buyer_id, None)
        self.erasures[buyer_id] = Erasure(buyer_id, at, requested_by)
        return self.erasures[buyer_id]
