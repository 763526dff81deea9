"""`catalogue`: products, SKUs and pools as created (one INSERT per table per batch), and pools'
priorities as changed (one UPDATE per batch: a pool's events are in version order, the highest wins)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

from quanyi_inventory.projections._events import (
    POOL_CREATED,
    POOL_PRIORITY_CHANGED,
    PRODUCT_CREATED,
    SKU_CREATED,
)


def _strategy(value: int) -> str:
    return "fefo" if value == pb.ALLOCATION_STRATEGY_FEFO else "fifo"


class CatalogueProjection(Projection):
    name = "catalogue"
    tables = ("products", "skus", "pools")
    handles = frozenset({PRODUCT_CREATED, SKU_CREATED, POOL_CREATED, POOL_PRIORITY_CHANGED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        products = of_type(events, pb.ProductCreated)
        if products:
            await conn.execute(
                "INSERT INTO products (product_id, name, kind, created_at)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])",
                (
                    [e.payload.product_id for e in products],
                    [e.payload.name for e in products],
                    [e.payload.kind for e in products],
                    [e.occurred_at for e in products],
                ),
            )
        skus = of_type(events, pb.SkuCreated)
        if skus:
            await conn.execute(
                "INSERT INTO skus (sku_id, product_id, name, price_minor, currency, created_at,"
                " allocation_strategy)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],"
                " %s::timestamptz[], %s::text[])",
                (
                    [e.payload.sku_id for e in skus],
                    [e.payload.product_id for e in skus],
                    [e.payload.name for e in skus],
                    [e.payload.price.minor_units for e in skus],
                    [e.payload.price.currency for e in skus],
                    [e.occurred_at for e in skus],
                    [_strategy(e.payload.allocation_strategy) for e in skus],
                ),
            )
        pools = of_type(events, pb.PoolCreated)
        if pools:
            await conn.execute(
                "INSERT INTO pools (pool_id, sku_id, name, created_at, priority, version)"
                " SELECT p, s, n, c, r, 1"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::int[])"
                " AS u(p, s, n, c, r)",
                (
                    [e.payload.pool_id for e in pools],
                    [e.payload.sku_id for e in pools],
                    [e.payload.name for e in pools],
                    [e.occurred_at for e in pools],
                    [e.payload.priority for e in pools],
                ),
            )
        latest: dict[str, tuple[int, int]] = {}
        for e in of_type(events, pb.PoolPriorityChanged):
            version = latest.get(e.payload.pool_id, (0, 0))[0]
            if e.aggregate_version > version:
                latest[e.payload.pool_id] = (e.aggregate_version, e.payload.priority)
        if latest:
            ids = sorted(latest)
            await conn.execute(
                "UPDATE pools p SET priority = u.priority, version = u.version"
                " FROM unnest(%s::text[], %s::int[], %s::int[]) AS u(pool_id, version, priority)"
                " WHERE p.pool_id = u.pool_id AND p.version < u.version",
                (ids, [latest[i][0] for i in ids], [latest[i][1] for i in ids]),
            )
