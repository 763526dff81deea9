"""A bundle's points and memberships, granted to the buyer when the order is delivered.

Pure. Each points component of a unit is credited once (PointsCredited, its own Entitlement stream); each
membership component is a grant of its plan to the buyer (MembershipGranted, a version of the buyer's
Membership stream of that plan). Grants of one plan stack: a grant starts when the buyer's current
membership of the plan ends, or at the delivery when it has ended or there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from quanyi_fulfillment.domain.delivery import MEMBERSHIP, POINTS, Reservation
from quanyi_fulfillment.domain.events import (
    ENTITLEMENT,
    MEMBERSHIP_STREAM,
    MembershipGranted,
    MembershipShortened,
    PointsCredited,
    PointsDebited,
    Recorded,
)

PlanKey = tuple[str, str]
"""(buyer id, plan)."""


@dataclass(frozen=True)
class Membership:
    """A buyer's membership of a plan: valid until `valid_until`; `version` is its stream's last."""

    buyer_id: str
    plan: str
    valid_until: datetime
    version: int


def membership_stream(buyer_id: str, plan: str) -> str:
    return f"{buyer_id}:{plan}"


def points_stream(order_id: str, line_no: int, unit_no: int) -> str:
    return f"{order_id}:{line_no}:{unit_no}"


def evolve(state: Membership | None, recorded: Recorded) -> Membership:
    """The membership after a MembershipGranted or MembershipShortened of its stream. Raises ValueError for
    anything else, a shortening of no membership, or a version that does not follow."""
    event = recorded.event
    if not isinstance(event, MembershipGranted | MembershipShortened):
        raise ValueError(f"{type(event).__name__} is not a membership grant or shortening")
    if isinstance(event, MembershipShortened) and state is None:
        raise ValueError(f"membership {recorded.stream_id}: shortened before any grant")
    expected = 1 if state is None else state.version + 1
    if recorded.version != expected:
        raise ValueError(f"membership {recorded.stream_id}: version {recorded.version}, expected {expected}")
    return Membership(event.buyer_id, event.plan, event.valid_until, recorded.version)


def fold(records: Iterable[Recorded]) -> dict[PlanKey, Membership]:
    """Every buyer's membership of every plan, from the events (in store order)."""
    states: dict[PlanKey, Membership] = {}
    for r in records:
        if isinstance(r.event, MembershipGranted | MembershipShortened):
            key = (r.event.buyer_id, r.event.plan)
            states[key] = evolve(states.get(key), r)
    return states


def plans_of(reservation: Reservation) -> set[PlanKey]:
    """The (buyer, plan) memberships that granting `reservation` touches."""
    return {(reservation.buyer_id, e.plan) for e in reservation.entitlements if e.kind == MEMBERSHIP}


def grant(
    reservation: Reservation, memberships: Mapping[PlanKey, Membership], now: datetime
) -> list[Recorded]:
    """The events that grant a delivered order's points and memberships, in (line, unit) order: one
    PointsCredited per points component, one MembershipGranted per membership component, each grant of a
    plan starting when the buyer's membership of it (`memberships`, then the grants before it) ends."""
    current = dict(memberships)
    out: list[Recorded] = []
    for e in sorted(reservation.entitlements, key=lambda x: (x.line_no, x.unit_no)):
        if e.kind == POINTS:
            credited = PointsCredited(
                reservation.order_id, e.line_no, e.unit_no, reservation.buyer_id, e.points, e.value,
                reservation.sales_channel, e.bundle_sku_id, now,
            )
            out.append(Recorded(ENTITLEMENT, points_stream(reservation.order_id, e.line_no, e.unit_no), 1,
                                credited))
            continue
        key = (reservation.buyer_id, e.plan)
        held = current.get(key)
        start = max(now, held.valid_until) if held is not None else now
        granted = MembershipGranted(
            reservation.order_id, e.line_no, e.unit_no, reservation.buyer_id, e.plan, e.days, start,
            start + timedelta(days=e.days), e.value, reservation.sales_channel, e.bundle_sku_id, now,
        )
        recorded = Recorded(
            MEMBERSHIP_STREAM, membership_stream(*key), (held.version if held is not None else 0) + 1, granted
        )
        current[key] = evolve(held, recorded)
        out.append(recorded)
    return out


def plans_granted(records: Iterable[Recorded]) -> set[PlanKey]:
    """The (buyer, plan) memberships an order's entitlement events granted."""
    return {(r.event.buyer_id, r.event.plan) for r in records if isinstance(r.event, MembershipGranted)}


def take_back(
    order_id: str, records: Iterable[Recorded], memberships: Mapping[PlanKey, Membership], now: datetime
) -> list[Recorded]:
    """The events that take back a refunded order's points and memberships, in (line, unit) order.

    `records` are the order's entitlement events (its PointsCredited/PointsDebited, and its grants and
    shortenings). Each credited unit not yet debited gets a PointsDebited (version 2 of its stream, so a
    second one cannot be stored); each grant not yet shortened a MembershipShortened that moves the
    buyer's membership of the plan (`memberships`, then the ones before it) back by the grant's days.
    Units never granted (refunded before delivery) need nothing. Idempotent: with the events it returned
    among `records`, it returns none.
    """
    credits: dict[tuple[int, int], PointsCredited] = {}
    grants: dict[tuple[int, int], MembershipGranted] = {}
    debited: set[tuple[int, int]] = set()
    shortened: set[tuple[int, int]] = set()
    for r in records:
        e = r.event
        if not isinstance(e, PointsCredited | MembershipGranted | PointsDebited | MembershipShortened):
            continue
        if e.order_id != order_id:
            continue
        unit = (e.line_no, e.unit_no)
        if isinstance(e, PointsCredited):
            credits[unit] = e
        elif isinstance(e, MembershipGranted):
            grants[unit] = e
        elif isinstance(e, PointsDebited):
            debited.add(unit)
        else:
            shortened.add(unit)
    current = dict(memberships)
    out: list[Recorded] = []
    for unit in sorted(set(credits) | set(grants)):
        credit = credits.get(unit)
        if credit is not None and unit not in debited:
            debit = PointsDebited(
                order_id, unit[0], unit[1], credit.buyer_id, credit.points, credit.value,
                credit.sales_channel, credit.bundle_sku_id, now,
            )
            out.append(Recorded(ENTITLEMENT, points_stream(order_id, *unit), 2, debit))
        granted = grants.get(unit)
        if granted is None or unit in shortened:
            continue
        key = (granted.buyer_id, granted.plan)
        held = current.get(key)
        if held is None:
            raise ValueError(f"membership {membership_stream(*key)}: a grant of order {order_id} not folded")
        cut = MembershipShortened(
            order_id, unit[0], unit[1], granted.buyer_id, granted.plan, granted.days,
            held.valid_until - timedelta(days=granted.days), granted.cost, granted.sales_channel,
            granted.bundle_sku_id, now,
        )
        recorded = Recorded(MEMBERSHIP_STREAM, membership_stream(*key), held.version + 1, cut)
        current[key] = evolve(held, recorded)
        out.append(recorded)
    return out
