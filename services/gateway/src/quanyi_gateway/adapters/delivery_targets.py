"""A buyer's kept delivery targets on the gateway's `delivery_targets` table (DeliveryTargetStore), and an
in-memory fake of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.adapters.autocommit import autocommit
from quanyi_gateway.application.delivery_targets import DeliveryTarget


class PostgresDeliveryTargetStore:
    """A DeliveryTargetStore on `delivery_targets` (rows go with the account: ON DELETE CASCADE)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def of(self, buyer_id: uuid.UUID) -> list[DeliveryTarget]:
        async with autocommit(self._pool) as conn:
            cur = await conn.execute(
                "SELECT channel, target FROM delivery_targets WHERE buyer_id = %s ORDER BY channel",
                (buyer_id,),
            )
            rows: list[Any] = await cur.fetchall()
        return [DeliveryTarget(r["channel"], r["target"]) for r in rows]

    async def keep(
        self, buyer_id: uuid.UUID, targets: Sequence[DeliveryTarget], at: datetime, *, only: bool = False
    ) -> bool:
        # One statement: the buyer's row is locked (FOR KEY SHARE) so an erasure cannot slip in between,
        # and a buyer with no account keeps nothing. Buyers' roles only: an operator keeps no targets.
        async with autocommit(self._pool) as conn:
            cur = await conn.execute(
                """
                WITH buyer AS (
                    SELECT user_id FROM users WHERE user_id = %(buyer)s AND role = 'buyer' FOR KEY SHARE
                ), wanted AS (
                    SELECT * FROM unnest(%(channels)s::text[], %(targets)s::text[]) AS w(channel, target)
                ), dropped AS (
                    DELETE FROM delivery_targets d USING buyer
                    WHERE %(only)s AND d.buyer_id = buyer.user_id
                      AND d.channel <> ALL(%(channels)s::text[])
                ), kept AS (
                    INSERT INTO delivery_targets (buyer_id, channel, target, updated_at)
                    SELECT buyer.user_id, w.channel, w.target, %(at)s FROM buyer, wanted w
                    ON CONFLICT (buyer_id, channel)
                    DO UPDATE SET target = EXCLUDED.target, updated_at = EXCLUDED.updated_at
                )
                SELECT count(*) AS n FROM buyer
                """,
                {
                    "buyer": buyer_id, "only": only, "at": at,
                    "channels": [t.channel for t in targets], "targets": [t.target for t in targets],
                },
            )
            row: Any = await cur.fetchone()
        return bool(row["n"])

    async def drop(self, buyer_id: uuid.UUID, channels: Sequence[str] | None) -> int:
        async with autocommit(self._pool) as conn:
            cur = await conn.execute(
                "DELETE FROM delivery_targets WHERE buyer_id = %(buyer)s"
                " AND (%(all)s OR channel = ANY(%(channels)s::text[]))",
                {"buyer": buyer_id, "all": channels is None, "channels": list(channels or [])},
            )
            return cur.rowcount


@dataclass
class InMemoryDeliveryTargetStore:
    """The fake: the buyers that have an account, and their targets by channel."""

    buyers: set[uuid.UUID] = field(default_factory=set)
    targets: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)

    async def of(self, buyer_id: uuid.UUID) -> list[DeliveryTarget]:
        return [DeliveryTarget(c, t) for c, t in sorted(self.targets.get(buyer_id, {}).items())]

    async def keep(
        self, buyer_id: uuid.UUID, targets: Sequence[DeliveryTarget], at: datetime, *, only: bool = False
    ) -> bool:
        if buyer_id not in self.buyers:
            return False
        kept = {} if only else dict(self.targets.get(buyer_id, {}))
        kept.update((t.channel, t.target) for t in targets)
        self.targets[buyer_id] = kept
        return True

    async def drop(self, buyer_id: uuid.UUID, channels: Sequence[str] | None) -> int:
        kept = self.targets.get(buyer_id, {})
        gone = [c for c in kept if channels is None or c in channels]
        for c in gone:
            del kept[c]
        return len(gone)
