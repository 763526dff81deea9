"""`bundles`: each bundle SKU's components (BundleDefined), one INSERT per batch. Insert-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

BUNDLE_DEFINED = pb.BundleDefined.DESCRIPTOR.full_name


class BundlesProjection(Projection):
    name = "bundles"
    tables = ("bundle_components",)
    handles = frozenset({BUNDLE_DEFINED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [
            (e.payload.sku_id, position, c.sku_id, c.quantity)
            for e in of_type(events, pb.BundleDefined)
            for position, c in enumerate(e.payload.components, start=1)
        ]
        if rows:
            await conn.execute(
                "INSERT INTO bundle_components (bundle_sku_id, position, component_sku_id, quantity)"
                " SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::int[])",
                tuple([r[i] for r in rows] for i in range(4)),
            )
