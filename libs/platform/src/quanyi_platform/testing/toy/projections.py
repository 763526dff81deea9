"""The toy service's one projection: OrderCancelled counted per reason, set-wise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.orders.v1 import events_pb2 as orders_events

from quanyi_platform.projection import Projection, StoredEvent


class Cancellations(Projection):
    name = "cancellations"
    tables = ("cancellations",)
    handles = frozenset({orders_events.OrderCancelled.DESCRIPTOR.full_name})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        folded: dict[str, tuple[int, str, Any]] = {}
        for e in events:
            n, last, at = folded.get(e.payload.reason, (0, "", e.occurred_at))
            folded[e.payload.reason] = (n + 1, max(last, e.payload.order_id), max(at, e.occurred_at))
        reasons = sorted(folded)
        await conn.execute(
            "INSERT INTO cancellations (reason, n, last_order, last_at)"
            " SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[])"
            # Commutative on purpose: concurrent appends are projected in lock order, replay in seq order.
            " ON CONFLICT (reason) DO UPDATE SET n = cancellations.n + EXCLUDED.n,"
            " last_order = GREATEST(cancellations.last_order, EXCLUDED.last_order),"
            " last_at = GREATEST(cancellations.last_at, EXCLUDED.last_at)",
            (
                reasons,
                [folded[r][0] for r in reasons],
                [folded[r][1] for r in reasons],
                [folded[r][2] for r in reasons],
            ),
        )


PROJECTIONS: tuple[Projection, ...] = (Cancellations(),)
