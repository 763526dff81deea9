"""Bundles' points and memberships in the user centre: `points_credits` and `membership_grants` (one row
per PointsCredited / MembershipGranted), `points_balances` (a buyer's points: a sum, so the order of
unrelated events does not matter) and `memberships` (a buyer's membership of a plan: the grant of the
highest version of its stream, whichever batch brings it). A refund's PointsDebited marks its credit
`debited_at` and takes its points off the balance (which may go negative if they were spent); its
MembershipShortened marks its grant `shortened_at` and, as a version of the plan's stream, moves the
membership's end back.

Per batch: one INSERT per table, from the batch's events folded per row first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import (
    MEMBERSHIP_GRANTED,
    MEMBERSHIP_SHORTENED,
    POINTS_CREDITED,
    POINTS_DEBITED,
    recorded_of,
)
from quanyi_fulfillment.domain.events import (
    MembershipGranted,
    MembershipShortened,
    PointsCredited,
    PointsDebited,
)


class Entitlements(Projection):
    name = "entitlements"
    tables = ("points_credits", "points_balances", "membership_grants", "memberships")
    handles = frozenset({POINTS_CREDITED, MEMBERSHIP_GRANTED, POINTS_DEBITED, MEMBERSHIP_SHORTENED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        credits: list[PointsCredited] = []
        debits: list[PointsDebited] = []
        grants: list[tuple[MembershipGranted, int]] = []
        cuts: list[tuple[MembershipShortened, int]] = []
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None:
                continue
            if isinstance(recorded.event, PointsCredited):
                credits.append(recorded.event)
            elif isinstance(recorded.event, PointsDebited):
                debits.append(recorded.event)
            elif isinstance(recorded.event, MembershipGranted):
                grants.append((recorded.event, recorded.version))
            elif isinstance(recorded.event, MembershipShortened):
                cuts.append((recorded.event, recorded.version))
        if credits:
            await self._credit(conn, credits)
        if debits:
            await self._debit(conn, debits)
        if credits or debits:
            await self._balance(conn, credits, debits)
        if grants:
            await self._grant(conn, grants)
        if cuts:
            await self._shorten(conn, cuts)
        if grants or cuts:
            await self._memberships(
                conn, [(g.buyer_id, g.plan, g.valid_until, v) for g, v in grants]
                + [(c.buyer_id, c.plan, c.valid_until, v) for c, v in cuts],
            )

    async def _debit(self, conn: Any, debits: list[PointsDebited]) -> None:
        await conn.execute(
            "UPDATE points_credits AS p SET debited_at = u.at FROM unnest(%b::text[], %b::int[], %b::int[],"
            " %b::timestamptz[]) AS u(order_id, line_no, unit_no, at) WHERE p.order_id = u.order_id"
            " AND p.line_no = u.line_no AND p.unit_no = u.unit_no",
            (
                [d.order_id for d in debits], [d.line_no for d in debits], [d.unit_no for d in debits],
                [d.at for d in debits],
            ),
        )

    async def _shorten(self, conn: Any, cuts: list[tuple[MembershipShortened, int]]) -> None:
        await conn.execute(
            "UPDATE membership_grants AS g SET shortened_at = u.at FROM unnest(%b::text[], %b::int[],"
            " %b::int[], %b::timestamptz[]) AS u(order_id, line_no, unit_no, at)"
            " WHERE g.order_id = u.order_id AND g.line_no = u.line_no AND g.unit_no = u.unit_no",
            (
                [c.order_id for c, _ in cuts], [c.line_no for c, _ in cuts], [c.unit_no for c, _ in cuts],
                [c.at for c, _ in cuts],
            ),
        )

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

    async def _balance(self, conn: Any, credits: list[PointsCredited], debits: list[PointsDebited]) -> None:
        per_buyer: dict[str, int] = {}
        for c in credits:
            per_buyer[c.buyer_id] = per_buyer.get(c.buyer_id, 0) + c.points
        for d in debits:
            per_buyer[d.buyer_id] = per_buyer.get(d.buyer_id, 0) - d.points
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

    async def _memberships(self, conn: Any, versions: list[tuple[str, str, datetime, int]]) -> None:
        last: dict[tuple[str, str], tuple[datetime, int]] = {}
        for buyer, plan, until, v in versions:
            if (buyer, plan) not in last or last[buyer, plan][1] < v:
                last[buyer, plan] = (until, v)
        keys = sorted(last)
        await conn.execute(
            "INSERT INTO memberships (buyer_id, plan, valid_until, version)"
            " SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::bigint[])"
            " ON CONFLICT (buyer_id, plan) DO UPDATE SET valid_until = excluded.valid_until,"
            " version = excluded.version WHERE memberships.version < excluded.version",
            (
                [b for b, _ in keys], [p for _, p in keys], [last[k][0] for k in keys],
                [last[k][1] for k in keys],
            ),
        )
