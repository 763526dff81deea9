"""Inventory's part of a key's cross-service history (quanyi_platform.event_history)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.event_history import HistoryScope


class InventoryHistoryScope(HistoryScope):
    """A key's events are its orders' (reserved, delivered, revealed, redeemed, refunded, redeemed after
    its refund): the order that holds it now, from the keys projection by its primary key, and the orders
    whose refunds took it back (a recycled or released key holds none), from `refunded_keys` by key."""

    async def key_correlations(self, conn: AsyncConnection[Any], key_id: str) -> Sequence[str]:
        cur = await conn.execute(
            "SELECT order_id FROM keys WHERE key_id = %s AND order_id IS NOT NULL"
            " UNION SELECT order_id FROM refunded_keys WHERE key_id = %s",
            (key_id, key_id),
        )
        return sorted(str(r["order_id"]) for r in await cur.fetchall())
