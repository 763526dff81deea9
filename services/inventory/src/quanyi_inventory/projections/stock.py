"""`stock`: each SKU's and each pool's keys counted by state (`sku_stock`, `pool_stock`), and whether the
SKU's low-stock episode was reported, and its threshold; and what moved each SKU's available keys per UTC
day (`stock_daily`, folded by `stock_daily.day_changes`, for its burn-down).

One INSERT for new SKUs, one for new pools, and one statement for the rest: the SKUs' rows, their day rows
(added by ON CONFLICT DO UPDATE) and the pools' rows. The day rows ride in that statement on purpose: every
allocation of a SKU waits for its `sku_stock` row, so a statement of their own would have lengthened that
wait by a round trip (claims/s fell by a quarter in bench.allocate). Counts combine as
sums, so transactions that project concurrently (in lock order) and a replay (in seq order) agree. The
alert flag follows the SkuStock aggregate's own events, whose versions order them: the highest version
seen wins; so does the threshold, by the Sku aggregate's versions (SkuCreated 1, each LowStockThresholdSet
one more).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import (
    KEY_RESERVED,
    KEYS_EXPIRED,
    KEYS_IMPORTED,
    LOW_STOCK_THRESHOLD_SET,
    POOL_CREATED,
    SKU_CREATED,
    STOCK_LOW,
    STOCK_LOW_CLEARED,
)
from quanyi_inventory.projections.batch_keys import BATCH_RESTORED, BATCH_VOIDED, KEYS_MOVED
from quanyi_inventory.projections.key_life import KEYS_DELIVERED, KEYS_REDEEMED, REFUND_KEYS_SETTLED
from quanyi_inventory.projections.stock_daily import COLUMNS, day_changes


@dataclass
class _Change:
    available: int = 0
    reserved: int = 0
    expired: int = 0
    void: int = 0
    delivered: int = 0
    redeemed: int = 0
    recycled: int = 0
    version: int = 0
    alerted: bool = False
    # The latest LowStockThresholdSet of the batch (its Sku version; 0: none) and its threshold.
    threshold_version: int = 0
    threshold: int = 0


_COUNTS = ("available", "reserved", "expired", "void", "delivered", "redeemed", "recycled")
# What each list of keys of a key-life event moves: (field of the event, from count, to count).
_KEY_LIFE_MOVES = {
    pb.KeysDelivered: (("keys", "reserved", "delivered"),),
    pb.KeysRedeemed: (("keys", "delivered", "redeemed"),),
    pb.RefundKeysSettled: (
        ("released", "reserved", "available"),
        ("voided", "delivered", "recycled"),
        ("voided_undelivered", "reserved", "recycled"),
    ),
}


def _touched(
    changes: dict[str, _Change], by_pool: dict[str, _Change], sku_id: str, pool_id: str
) -> list[_Change]:
    """The SKU's change and the pool's (events recorded before keys named their pool have none)."""
    touched = [changes.setdefault(sku_id, _Change())]
    if pool_id:
        touched.append(by_pool.setdefault(pool_id, _Change()))
    return touched


class StockProjection(Projection):
    name = "stock"
    tables = ("sku_stock", "pool_stock", "stock_daily")
    handles = frozenset(
        {SKU_CREATED, POOL_CREATED, KEYS_IMPORTED, KEY_RESERVED, KEYS_EXPIRED, STOCK_LOW, STOCK_LOW_CLEARED,
         BATCH_VOIDED, BATCH_RESTORED, KEYS_MOVED, KEYS_DELIVERED, KEYS_REDEEMED, REFUND_KEYS_SETTLED,
         LOW_STOCK_THRESHOLD_SET}
    )

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        created: list[tuple[str, int]] = []
        pools: list[tuple[str, str]] = []
        changes: dict[str, _Change] = {}
        by_pool: dict[str, _Change] = {}
        for e in events:
            p = e.payload
            if isinstance(p, pb.SkuCreated):
                created.append((p.sku_id, int(p.low_stock_threshold)))
            elif isinstance(p, pb.PoolCreated):
                pools.append((p.pool_id, p.sku_id))
            elif isinstance(p, pb.KeysImported):
                changes.setdefault(p.sku_id, _Change()).available += int(p.imported)
                by_pool.setdefault(p.pool_id, _Change()).available += int(p.imported)
            elif isinstance(p, pb.KeyReserved):
                for k in p.keys:
                    for change in _touched(changes, by_pool, k.sku_id, k.pool_id):
                        change.available -= 1
                        change.reserved += 1
            elif isinstance(p, pb.KeysExpired):
                for x in p.keys:
                    for change in _touched(changes, by_pool, x.sku_id, x.pool_id):
                        change.available -= 1
                        change.expired += 1
            elif isinstance(p, pb.BatchVoided | pb.BatchRestored):
                # Voiding moves a batch's available keys to void; restoring moves them back.
                sign = 1 if isinstance(p, pb.BatchVoided) else -1
                for change in _touched(changes, by_pool, p.sku_id, p.pool_id):
                    change.available -= sign * int(p.keys)
                    change.void += sign * int(p.keys)
            elif isinstance(p, pb.KeysMoved):
                for change in _touched(changes, by_pool, p.from_sku_id, p.from_pool_id):
                    change.available -= int(p.keys)
                for change in _touched(changes, by_pool, p.to_sku_id, p.to_pool_id):
                    change.available += int(p.keys)
            elif isinstance(p, pb.KeysDelivered | pb.KeysRedeemed | pb.RefundKeysSettled):
                for field, source, target in _KEY_LIFE_MOVES[type(p)]:
                    for k in getattr(p, field):
                        for change in _touched(changes, by_pool, k.sku_id, k.pool_id):
                            setattr(change, source, getattr(change, source) - 1)
                            setattr(change, target, getattr(change, target) + 1)
            elif isinstance(p, pb.LowStockThresholdSet):
                change = changes.setdefault(p.sku_id, _Change())
                if e.aggregate_version > change.threshold_version:
                    change.threshold_version = e.aggregate_version
                    change.threshold = int(p.low_stock_threshold)
            elif isinstance(p, pb.StockLow | pb.StockLowCleared):
                change = changes.setdefault(p.sku_id, _Change())
                if e.aggregate_version > change.version:
                    change.version = e.aggregate_version
                    change.alerted = isinstance(p, pb.StockLow)
        if created:
            await conn.execute(
                "INSERT INTO sku_stock (sku_id, low_stock_threshold, available, reserved, delivered,"
                " redeemed, expired, void, recycled, low_stock_alerted, stock_version, threshold_version)"
                " SELECT s, t, 0, 0, 0, 0, 0, 0, 0, false, 0, 1"
                " FROM unnest(%b::text[], %b::bigint[]) AS u(s, t)",
                ([c[0] for c in created], [c[1] for c in created]),
            )
        if pools:
            await conn.execute(
                "INSERT INTO pool_stock (pool_id, sku_id, available, reserved, delivered, redeemed, expired,"
                " void, recycled) SELECT p, s, 0, 0, 0, 0, 0, 0, 0 FROM unnest(%b::text[], %b::text[])"
                " AS u(p, s)",
                ([p[0] for p in pools], [p[1] for p in pools]),
            )
        if changes:
            # One statement: the SKUs' rows, then (a one-time filter waits for them) their day rows, then the
            # pools' rows, the order in which every writer locks them, so two appends never wait for each
            # other in a cycle.
            skus = sorted(changes)
            ids = sorted(by_pool)
            days = day_changes(events)
            on = sorted(days)
            await conn.execute(
                "WITH s AS (UPDATE sku_stock s SET available = s.available + c.available,"
                " reserved = s.reserved + c.reserved, expired = s.expired + c.expired,"
                " void = s.void + c.void, delivered = s.delivered + c.delivered,"
                " redeemed = s.redeemed + c.redeemed, recycled = s.recycled + c.recycled,"
                " low_stock_alerted = CASE WHEN c.version > s.stock_version THEN c.alerted"
                " ELSE s.low_stock_alerted END,"
                " stock_version = GREATEST(s.stock_version, c.version),"
                " low_stock_threshold = CASE WHEN c.tversion > s.threshold_version THEN c.threshold"
                " ELSE s.low_stock_threshold END,"
                " threshold_version = GREATEST(s.threshold_version, c.tversion)"
                " FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[],"
                " %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::boolean[], %b::bigint[],"
                " %b::bigint[])"
                " AS c(sku_id, available, reserved, expired, void, delivered, redeemed, recycled, version,"
                " alerted, tversion, threshold)"
                " WHERE s.sku_id = c.sku_id RETURNING 1),"
                " d AS (INSERT INTO stock_daily AS t (sku_id, day, imported, reserved, released, expired,"
                " voided, moved) SELECT * FROM unnest(%b::text[], %b::date[], %b::bigint[], %b::bigint[],"
                " %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[]) WHERE (SELECT count(*) FROM s) >= 0"
                " ON CONFLICT (sku_id, day) DO UPDATE SET imported = t.imported + excluded.imported,"
                " reserved = t.reserved + excluded.reserved, released = t.released + excluded.released,"
                " expired = t.expired + excluded.expired, voided = t.voided + excluded.voided,"
                " moved = t.moved + excluded.moved RETURNING 1)"
                " UPDATE pool_stock s SET available = s.available + c.available,"
                " reserved = s.reserved + c.reserved, expired = s.expired + c.expired,"
                " void = s.void + c.void, delivered = s.delivered + c.delivered,"
                " redeemed = s.redeemed + c.redeemed, recycled = s.recycled + c.recycled"
                " FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[],"
                " %b::bigint[], %b::bigint[], %b::bigint[])"
                " AS c(pool_id, available, reserved, expired, void, delivered, redeemed, recycled)"
                " WHERE s.pool_id = c.pool_id AND (SELECT count(*) FROM d) >= 0",
                (
                    skus,
                    *([getattr(changes[s], n) for s in skus] for n in _COUNTS),
                    [changes[s].version for s in skus],
                    [changes[s].alerted for s in skus],
                    [changes[s].threshold_version for s in skus],
                    [changes[s].threshold for s in skus],
                    [k[0] for k in on],
                    [k[1] for k in on],
                    *([getattr(days[k], c) for k in on] for c in COLUMNS),
                    ids,
                    *([getattr(by_pool[i], n) for i in ids] for n in _COUNTS),
                ),
            )
