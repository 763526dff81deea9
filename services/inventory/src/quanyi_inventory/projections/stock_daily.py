"""What moved each SKU's available keys per UTC day: the fold of table `stock_daily`, which projection
`stock` writes in the statement that updates the SKUs' stock rows.

The day is the event's own (`occurred_at` in UTC). A batch is folded per (SKU, day) here, then ON CONFLICT
adds the sums to the rows: sums commute, so batch boundaries, the order of unrelated events and a replay in
seq order all give the same rows. The available keys at the end of a day are the running sum of the days'
`StockMoves.change` up to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, date

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import StoredEvent

from quanyi_inventory.domain.stock import StockMoves

COLUMNS = tuple(f.name for f in fields(StockMoves))
_IMPORTED, _RESERVED, _RELEASED, _EXPIRED, _VOIDED, _MOVED = (
    COLUMNS.index(c) for c in ("imported", "reserved", "released", "expired", "voided", "moved")
)
# The events that move available keys (the rest of a batch is skipped at once).
_MOVES = (pb.KeyReserved, pb.KeysImported, pb.KeysExpired, pb.BatchVoided, pb.BatchRestored, pb.KeysMoved,
          pb.RefundKeysSettled)


def day_changes(events: Iterable[StoredEvent]) -> dict[tuple[str, date], StockMoves]:
    """The events' moves of available keys, summed per (SKU, UTC day); events it does not know add
    nothing. The same function folds a batch for the table and the whole log for the in-memory fake."""
    sums: dict[tuple[str, date], list[int]] = {}

    def row(sku_id: str, day: date) -> list[int]:
        found = sums.get((sku_id, day))
        if found is None:
            found = sums[(sku_id, day)] = [0] * len(COLUMNS)
        return found

    for e in events:
        p = e.payload
        if not isinstance(p, _MOVES):
            continue
        day = e.occurred_at.astimezone(UTC).date()
        if isinstance(p, pb.KeyReserved):
            for k in p.keys:
                row(k.sku_id, day)[_RESERVED] += 1
        elif isinstance(p, pb.KeysImported):
            row(p.sku_id, day)[_IMPORTED] += int(p.imported)
        elif isinstance(p, pb.KeysExpired):
            for x in p.keys:
                row(x.sku_id, day)[_EXPIRED] += 1
        elif isinstance(p, pb.BatchVoided):
            row(p.sku_id, day)[_VOIDED] += int(p.keys)
        elif isinstance(p, pb.BatchRestored):
            row(p.sku_id, day)[_VOIDED] -= int(p.keys)
        elif isinstance(p, pb.KeysMoved):
            row(p.from_sku_id, day)[_MOVED] -= int(p.keys)
            row(p.to_sku_id, day)[_MOVED] += int(p.keys)
        else:
            # RefundKeysSettled: only released keys come back to available; recycled ones never do.
            for k in p.released:
                row(k.sku_id, day)[_RELEASED] += 1
    return {key: StockMoves(*counts) for key, counts in sums.items()}
