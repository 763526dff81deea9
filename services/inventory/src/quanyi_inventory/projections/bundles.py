"""`bundles`: each bundle SKU's components (BundleDefined): its key components in `bundle_components`,
its points and memberships in `bundle_entitlements`; one INSERT per table per batch. Insert-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

BUNDLE_DEFINED = pb.BundleDefined.DESCRIPTOR.full_name


class BundlesProjection(Projection):
    name = "bundles"
    tables = ("bundle_components", "bundle_entitlements")
    handles = frozenset({BUNDLE_DEFINED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows: list[tuple[str, int, str, int]] = []
        extras: list[tuple[str, int, str, int, str, int, int, str]] = []
        for e in of_type(events, pb.BundleDefined):
            for position, c in enumerate(e.payload.components, start=1):
                if c.HasField("points"):
                    p = c.points
                    extras.append((e.payload.sku_id, position, "points", p.points, "", 0,
                                   p.value.minor_units, p.value.currency))
                elif c.HasField("membership"):
                    m = c.membership
                    extras.append((e.payload.sku_id, position, "membership", 0, m.plan, m.days,
                                   m.cost.minor_units, m.cost.currency))
                else:
                    rows.append((e.payload.sku_id, position, c.sku_id, c.quantity))
        if rows:
            await conn.execute(
                "INSERT INTO bundle_components (bundle_sku_id, position, component_sku_id, quantity)"
                " SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::int[])",
                tuple([r[i] for r in rows] for i in range(4)),
            )
        if extras:
            await conn.execute(
                "INSERT INTO bundle_entitlements (bundle_sku_id, position, kind, points, plan, days,"
                " value_minor, currency) SELECT * FROM unnest(%s::text[], %s::int[], %s::text[],"
                " %s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::text[])",
                tuple([r[i] for r in extras] for i in range(8)),
            )
