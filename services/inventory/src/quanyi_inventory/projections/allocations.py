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
        # One JSON text of [order, outcome, short lines, time] rows (json.dumps is C; arrays cost ~1 µs an
        # element to dump).
        rows = [
            [
                e.payload.order_id,
                "short" if isinstance(e.payload, pb.StockShort) else "reserved",
                _short_lines(e.payload) if isinstance(e.payload, pb.StockShort) else None,
                e.occurred_at.isoformat(),
            ]
            for e in events
        ]
        await conn.execute(
            "INSERT INTO allocations (order_id, outcome, short_lines, decided_at, version)"
            " SELECT r->>0, r->>1, (r->>2)::jsonb, (r->>3)::timestamptz, 1"
            " FROM json_array_elements(%s::json) AS j(r)",
            (json.dumps(rows),),
        )
