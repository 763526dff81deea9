"""`order_velocity`: every order a buyer placed and when: the buyers' velocity windows (their current
state, which the consumer loads to decide)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_risk.adapters.proto import RISK_DECIDED
from quanyi_risk.projections._events import first_decisions


class OrderVelocityProjection(Projection):
    """One row per decided order: (order_id, buyer_id, placed_at). One INSERT per batch."""

    name = "order_velocity"
    tables = ("order_velocity",)
    handles = frozenset({RISK_DECIDED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [e for e, _ in first_decisions(events)]
        if not rows:
            return
        await conn.execute(
            "INSERT INTO order_velocity (order_id, buyer_id, placed_at)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[])"
            " ON CONFLICT (order_id) DO NOTHING",
            ([e.order_id for e in rows], [e.buyer_id for e in rows], [e.placed_at for e in rows]),
        )
