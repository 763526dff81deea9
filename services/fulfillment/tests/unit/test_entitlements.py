"""A bundle's points and memberships granted with an order's delivery (domain.entitlements)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_fulfillment.adapters import codec
from quanyi_fulfillment.domain import entitlements
from quanyi_fulfillment.domain.aggregate import deliver
from quanyi_fulfillment.domain.delivery import MEMBERSHIP, POINTS, Money, Reservation, ReservedEntitlement
from quanyi_fulfillment.domain.events import (
    ENTITLEMENT,
    MEMBERSHIP_STREAM,
    EmailQueued,
    KeyDelivered,
    MembershipGranted,
    PointsCredited,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def points(unit: int, n: int = 100) -> ReservedEntitlement:
    return ReservedEntitlement(1, unit, "box", POINTS, n, "", 0, Money(n, "CNY"))


def vip(unit: int, days: int = 30, plan: str = "vip") -> ReservedEntitlement:
    return ReservedEntitlement(1, unit, "box", MEMBERSHIP, 0, plan, days, Money(0, ""))


def test_an_order_of_points_and_a_membership_only_is_delivered_without_a_key_or_an_email() -> None:
    reservation = Reservation("o-1", "b-1", (), "web", (points(1), vip(2)))
    records = deliver(None, reservation, NOW)
    assert [type(r.event) for r in records] == [KeyDelivered]
    assert not any(isinstance(r.event, EmailQueued) for r in records)
    granted = entitlements.grant(reservation, {}, NOW)
    assert [(r.stream, r.stream_id, r.version) for r in granted] == [
        (ENTITLEMENT, "o-1:1:1", 1), (MEMBERSHIP_STREAM, "b-1:vip", 1)
    ]
    credited, membership = granted[0].event, granted[1].event
    assert isinstance(credited, PointsCredited) and credited.points == 100 and credited.value == Money(100, "CNY")
    assert isinstance(membership, MembershipGranted)
    assert (membership.valid_from, membership.valid_until) == (NOW, NOW + 30 * DAY)


def test_grants_of_one_plan_stack_each_starting_when_the_current_membership_ends() -> None:
    held = {("b-1", "vip"): entitlements.Membership("b-1", "vip", NOW + 10 * DAY, 3)}
    reservation = Reservation("o-2", "b-1", (), "web", (vip(1, 30), vip(2, 7), vip(3, 5, "gold")))
    granted = entitlements.grant(reservation, held, NOW)
    spans = [(r.version, r.event.valid_from, r.event.valid_until) for r in granted
             if isinstance(r.event, MembershipGranted)]
    assert spans == [
        (4, NOW + 10 * DAY, NOW + 40 * DAY), (5, NOW + 40 * DAY, NOW + 47 * DAY), (1, NOW, NOW + 5 * DAY)
    ]
    # A membership that has ended does not push the next grant into the past.
    ended = {("b-1", "vip"): entitlements.Membership("b-1", "vip", NOW - 3 * DAY, 1)}
    later = entitlements.grant(Reservation("o-3", "b-1", (), "web", (vip(1, 2),)), ended, NOW)[0].event
    assert isinstance(later, MembershipGranted) and later.valid_from == NOW


grants = st.lists(
    st.tuples(st.sampled_from(["b-1", "b-2"]), st.sampled_from(["vip", "gold"]), st.integers(1, 40),
              st.integers(0, 60)),
    min_size=1, max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(grants)
def test_folding_the_recorded_grants_gives_each_buyers_membership_and_grants_never_overlap(
    orders: list[tuple[str, str, int, int]],
) -> None:
    memberships: dict[entitlements.PlanKey, entitlements.Membership] = {}
    recorded = []
    for n, (buyer, plan, days, after) in enumerate(orders):
        at = NOW + after * DAY
        reservation = Reservation(f"o-{n}", buyer, (), "web", (vip(1, days, plan), points(2)))
        for r in entitlements.grant(reservation, memberships, at):
            stored = codec.event_of(codec.payload(r.event), r.event.at)  # as the store keeps it
            assert stored == r.event
            recorded.append(r)
            if isinstance(r.event, MembershipGranted):
                key = (r.event.buyer_id, r.event.plan)
                memberships[key] = entitlements.evolve(memberships.get(key), r)
    assert entitlements.fold(recorded) == memberships
    by_plan: dict[entitlements.PlanKey, list[MembershipGranted]] = {}
    for r in recorded:
        if isinstance(r.event, MembershipGranted):
            by_plan.setdefault((r.event.buyer_id, r.event.plan), []).append(r.event)
    for spans in by_plan.values():
        for before, after_ in itertools.pairwise(spans):
            assert after_.valid_from >= before.valid_until  # stacked, never overlapping
            assert after_.valid_until - after_.valid_from == timedelta(days=after_.days)
