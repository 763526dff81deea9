"""Bundles' points and memberships in the user centre: `points_credits` and `membership_grants` (one row
per PointsCredited / MembershipGranted), `points_balances` (a buyer's points: a sum, so the order of
unrelated events does not matter) and `memberships` (a buyer's membership of a plan: the grant of the
highest version of its stream, whichever batch brings it).

Per batch: one INSERT per table, from the batch's events folded per row first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import MEMBERSHIP_GRANTED, POINTS_CREDITED, recorded_of
from quanyi_fulfillment.domain.events import MembershipGranted, PointsCredited


class Entitlements(Projection):
    name = "entitlements"
    tables = ("points_credits", "points_balances", "membership_grants", "memberships")
    handles = frozenset({POINTS_CREDITED, MEMBERSHIP_GRANTED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        credits: list[PointsCredited] = []
        grants: list[tuple[MembershipGranted, int]] = []
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None:
                continue
            if isinstance(recorded.event, PointsCredited):
                credits.append(recorded.event)
            elif isinstance(recorded.event, MembershipGranted):
                grants.append((recorded.event, recorded.version))
        if credits:
            await self._credit(conn, credits)
        if grants:
            await self._grant(conn, grants)

    async def _credit(self, conn: Any, credits: list[PointsCredited]) -> None:
        await conn.execute(
            "INSERT INTO points_credits (order_id, line_no, unit_no, buyer_id, points, value_minor, currency,"
            " bundle_sku_id, credited_at) SELECT * FROM unnest(%b::text[], %b::int[], %b::int[], %b::text[],"
            " %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::timestamptz[])",
            (
                [c.order_id for c in credits], [c.line_no for c in credits], [c.unit_no for c in credits],
                [c.buyer_id for c in credits], [c.points for c in credits],
                [c.value.minor_units for c in credits], [c.value.currency for c in credits],
                [c.bundle_sku_id for c in credits], [c.at for c in credits],
            ),
        )
        per_buyer: dict[str, int] = {}
        for c in credits:
            per_buyer[c.buyer_id] = per_buyer.get(c.buyer_id, 0) + c.points
        buyers = sorted(per_buyer)
        await conn.execute(
            "INSERT INTO points_balances (buyer_id, points) SELECT * FROM unnest(%b::text[], %b::bigint[])"
            " ON CONFLICT (buyer_id) DO UPDATE SET points = points_balances.points + excluded.points",
            (buyers, [per_buyer[b] for b in buyers]),
        )

    async def _grant(self, conn: Any, grants: list[tuple[MembershipGranted, int]]) -> None:
        await conn.execute(
            "INSERT INTO membership_grants (order_id, line_no, unit_no, buyer_id, plan, days, valid_from,"
            " valid_until, version, cost_minor, currency, bundle_sku_id, granted_at)"
            " SELECT * FROM unnest(%b::text[], %b::int[], %b::int[], %b::text[], %b::text[], %b::int[],"
            " %b::timestamptz[], %b::timestamptz[], %b::bigint[], %b::bigint[], %b::text[], %b::text[],"
            " %b::timestamptz[])",
            (
                [g.order_id for g, _ in grants], [g.line_no for g, _ in grants],
                [g.unit_no for g, _ in grants], [g.buyer_id for g, _ in grants], [g.plan for g, _ in grants],
                [g.days for g, _ in grants], [g.valid_from for g, _ in grants],
                [g.valid_until for g, _ in grants], [v for _, v in grants],
                [g.cost.minor_units for g, _ in grants], [g.cost.currency for g, _ in grants],
                [g.bundle_sku_id for g, _ in grants], [g.at for g, _ in grants],
            ),
        )
        last: dict[tuple[str, str], tuple[MembershipGranted, int]] = {}
        for g, v in grants:
            key = (g.buyer_id, g.plan)
            if key not in last or last[key][1] < v:
                last[key] = (g, v)
        keys = sorted(last)
        await conn.execute(
            "INSERT INTO memberships (buyer_id, plan, valid_until, version)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::bigint[])"
            " ON CONFLICT (buyer_id, plan) DO UPDATE SET valid_until = excluded.valid_until,"
            " version = excluded.version WHERE memberships.version < excluded.version",
            (
                [b for b, _ in keys], [p for _, p in keys], [last[k][0].valid_until for k in keys],
                [last[k][1] for k in keys],
            ),
        )
