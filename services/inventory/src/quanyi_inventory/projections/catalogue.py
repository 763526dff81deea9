"""`catalogue`: products, SKUs and pools as created. Insert-only: one INSERT per table per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

from quanyi_inventory.projections._events import POOL_CREATED, PRODUCT_CREATED, SKU_CREATED


class CatalogueProjection(Projection):
    name = "catalogue"
    tables = ("products", "skus", "pools")
    handles = frozenset({PRODUCT_CREATED, SKU_CREATED, POOL_CREATED})

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
                "INSERT INTO skus (sku_id, product_id, name, price_minor, currency, created_at)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],"
                " %s::timestamptz[])",
                (
                    [e.payload.sku_id for e in skus],
                    [e.payload.product_id for e in skus],
                    [e.payload.name for e in skus],
                    [e.payload.price.minor_units for e in skus],
                    [e.payload.price.currency for e in skus],
                    [e.occurred_at for e in skus],
                ),
            )
        pools = of_type(events, pb.PoolCreated)
        if pools:
            await conn.execute(
                "INSERT INTO pools (pool_id, sku_id, name, created_at)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])",
                (
                    [e.payload.pool_id for e in pools],
                    [e.payload.sku_id for e in pools],
                    [e.payload.name for e in pools],
                    [e.occurred_at for e in pools],
                ),
            )
