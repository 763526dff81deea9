"""`stock`: each SKU's available and reserved keys, and whether its low-stock episode was reported.

One INSERT for new SKUs and one UPDATE per batch. Counts combine as sums, so transactions that project
concurrently (in lock order) and a replay (in seq order) agree. The alert flag follows the SkuStock
aggregate's own events, whose versions order them: the highest version seen wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import (
    KEY_RESERVED,
    KEYS_IMPORTED,
    SKU_CREATED,
    STOCK_LOW,
    STOCK_LOW_CLEARED,
)


@dataclass
class _Change:
    available: int = 0
    reserved: int = 0
    version: int = 0
    alerted: bool = False


class StockProjection(Projection):
    name = "stock"
    tables = ("sku_stock",)
    handles = frozenset({SKU_CREATED, KEYS_IMPORTED, KEY_RESERVED, STOCK_LOW, STOCK_LOW_CLEARED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        created: list[tuple[str, int]] = []
        changes: dict[str, _Change] = {}
        for e in events:
            p = e.payload
            if isinstance(p, pb.SkuCreated):
                created.append((p.sku_id, int(p.low_stock_threshold)))
            elif isinstance(p, pb.KeysImported):
                changes.setdefault(p.sku_id, _Change()).available += int(p.imported)
            elif isinstance(p, pb.KeyReserved):
                for k in p.keys:
                    change = changes.setdefault(k.sku_id, _Change())
                    change.available -= 1
                    change.reserved += 1
            elif isinstance(p, pb.StockLow | pb.StockLowCleared):
                change = changes.setdefault(p.sku_id, _Change())
                if e.aggregate_version > change.version:
                    change.version = e.aggregate_version
                    change.alerted = isinstance(p, pb.StockLow)
        if created:
            await conn.execute(
                "INSERT INTO sku_stock (sku_id, low_stock_threshold, available, reserved,"
                " low_stock_alerted, stock_version)"
                " SELECT s, t, 0, 0, false, 0 FROM unnest(%s::text[], %s::bigint[]) AS u(s, t)",
                ([c[0] for c in created], [c[1] for c in created]),
            )
        if changes:
            skus = sorted(changes)
            await conn.execute(
                "UPDATE sku_stock s SET available = s.available + c.available,"
                " reserved = s.reserved + c.reserved,"
                " low_stock_alerted = CASE WHEN c.version > s.stock_version THEN c.alerted"
                " ELSE s.low_stock_alerted END,"
                " stock_version = GREATEST(s.stock_version, c.version)"
                " FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::boolean[])"
                " AS c(sku_id, available, reserved, version, alerted)"
                " WHERE s.sku_id = c.sku_id",
                (
                    skus,
                    [changes[s].available for s in skus],
                    [changes[s].reserved for s in skus],
                    [changes[s].version for s in skus],
                    [changes[s].alerted for s in skus],
                ),
            )
