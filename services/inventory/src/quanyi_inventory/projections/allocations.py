"""`allocations`: the outcome of each paid order (KeyReserved or StockShort), one INSERT per batch, and the
version of its Allocation stream (the later key events: delivered, redeemed, refunds), one UPDATE."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import KEY_RESERVED, STOCK_SHORT
from quanyi_inventory.projections.key_life import KEY_LIFE, apply_to_allocations


def _short_lines(short: pb.StockShort) -> str:
    return json.dumps(
        [{"line_no": s.line_no, "sku_id": s.sku_id, "wanted": s.wanted, "available": s.available}
         for s in short.lines]
    )


class AllocationsProjection(Projection):
    name = "allocations"
    tables = ("allocations",)
    handles = frozenset({KEY_RESERVED, STOCK_SHORT}) | KEY_LIFE

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        later = [e for e in events if e.type in KEY_LIFE]
        decided = [e for e in events if e.type not in KEY_LIFE]
        if decided:
            await self._decided(conn, decided)
        if later:
            await apply_to_allocations(conn, later)

    async def _decided(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [
            (
                e.payload.order_id,
                "short" if isinstance(e.payload, pb.StockShort) else "reserved",
                _short_lines(e.payload) if isinstance(e.payload, pb.StockShort) else None,
                e.occurred_at,
            )
            for e in events
        ]
        await conn.execute(
            "INSERT INTO allocations (order_id, outcome, short_lines, decided_at, version)"
            " SELECT o, r, s::jsonb, d, 1 FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[])"
            " AS u(o, r, s, d)",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]),
        )
