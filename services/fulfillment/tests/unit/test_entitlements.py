"""A bundle's points and memberships granted with an order's delivery (domain.entitlements)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
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
    MembershipShortened,
    PointsCredited,
    PointsDebited,
    Recorded,
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


def test_a_refunded_order_takes_back_its_points_and_shortens_its_membership_once() -> None:
    held = {("b-1", "vip"): entitlements.Membership("b-1", "vip", NOW + 10 * DAY, 2)}
    reservation = Reservation("o-4", "b-1", (), "web", (points(1, 250), vip(2, 30), vip(3, 7)))
    granted = entitlements.grant(reservation, held, NOW)
    memberships = dict(held)
    for r in granted:
        if isinstance(r.event, MembershipGranted):
            memberships["b-1", "vip"] = entitlements.evolve(memberships.get(("b-1", "vip")), r)
    assert memberships["b-1", "vip"].valid_until == NOW + 47 * DAY
    later = NOW + 3 * DAY
    taken = entitlements.take_back("o-4", granted, memberships, later)
    assert [(r.stream, r.stream_id, r.version) for r in taken] == [
        (ENTITLEMENT, "o-4:1:1", 2), (MEMBERSHIP_STREAM, "b-1:vip", 5), (MEMBERSHIP_STREAM, "b-1:vip", 6)
    ]
    debit, cut30, cut7 = (r.event for r in taken)
    assert isinstance(debit, PointsDebited) and debit.points == 250 and debit.value == Money(250, "CNY")
    assert isinstance(cut30, MembershipShortened) and isinstance(cut7, MembershipShortened)
    # Each grant's days come off the end of the stacked membership: back to where it was before the order.
    assert (cut30.days, cut30.valid_until, cut7.valid_until) == (30, NOW + 17 * DAY, NOW + 10 * DAY)
    assert all(r.event.at == later for r in taken)
    after = dict(memberships)
    for r in taken[1:]:
        after["b-1", "vip"] = entitlements.evolve(after["b-1", "vip"], r)
    assert after["b-1", "vip"] == entitlements.Membership("b-1", "vip", NOW + 10 * DAY, 6)
    # Redelivered or repeated: nothing more; another order's refund touches nothing of this one.
    assert entitlements.take_back("o-4", [*granted, *taken], after, later) == []
    assert entitlements.take_back("o-9", granted, memberships, later) == []


def test_an_order_refunded_before_delivery_has_nothing_to_take_back() -> None:
    assert entitlements.take_back("o-5", [], {}, NOW) == []


def test_a_shortening_of_no_membership_or_a_stale_version_is_refused() -> None:
    cut = MembershipShortened("o-1", 1, 1, "b-1", "vip", 3, NOW, Money(0, ""), "web", "box", NOW)
    with pytest.raises(ValueError, match="before any grant"):
        entitlements.evolve(None, Recorded(MEMBERSHIP_STREAM, "b-1:vip", 1, cut))
    with pytest.raises(ValueError, match="expected 3"):
        entitlements.evolve(
            entitlements.Membership("b-1", "vip", NOW, 2), Recorded(MEMBERSHIP_STREAM, "b-1:vip", 2, cut)
        )


refunds = st.lists(
    st.tuples(st.sampled_from(["b-1", "b-2"]), st.sampled_from(["vip", "gold"]), st.integers(1, 40),
              st.integers(0, 60), st.integers(1, 500), st.booleans(), st.booleans()),
    min_size=1, max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(refunds)
def test_folding_grants_and_refunds_gives_each_membership_and_balance_and_a_refund_counts_once(
    orders: list[tuple[str, str, int, int, int, bool, bool]],
) -> None:
    """Orders are granted in turn and some refunded (some twice); the fold of what was recorded equals the
    memberships kept on the way, each balance is the points of the orders not refunded, and every
    membership ends where the grants not refunded (stacked) would end it, as if the refunded never were."""
    memberships: dict[entitlements.PlanKey, entitlements.Membership] = {}
    recorded: list[Recorded] = []
    kept_days: dict[entitlements.PlanKey, int] = {}
    balance: dict[str, int] = {}
    first: dict[entitlements.PlanKey, datetime] = {}

    def keep(records: list[Recorded]) -> None:
        for r in records:
            stored = codec.event_of(codec.payload(r.event), r.event.at)
            assert stored == r.event
            recorded.append(r)
            if isinstance(r.event, MembershipGranted | MembershipShortened):
                key = (r.event.buyer_id, r.event.plan)
                memberships[key] = entitlements.evolve(memberships.get(key), r)

    for n, (buyer, plan, days, _after, pts, refunded, twice) in enumerate(orders):
        at = NOW  # one instant: no grant ends before the next begins, so days stack exactly
        reservation = Reservation(f"o-{n}", buyer, (), "web", (vip(1, days, plan), points(2, pts)))
        keep(entitlements.grant(reservation, memberships, at))
        first.setdefault((buyer, plan), at)
        if refunded:
            for _ in range(2 if twice else 1):
                keep(entitlements.take_back(f"o-{n}", [r for r in recorded if r.order_id == f"o-{n}"],
                                            memberships, at + DAY))
        else:
            kept_days[buyer, plan] = kept_days.get((buyer, plan), 0) + days
            balance[buyer] = balance.get(buyer, 0) + pts
    assert entitlements.fold(recorded) == memberships
    for key, m in memberships.items():
        assert m.valid_until == first[key] + kept_days.get(key, 0) * DAY
    net: dict[str, int] = {}
    for r in recorded:
        if isinstance(r.event, PointsCredited | PointsDebited):
            sign = 1 if isinstance(r.event, PointsCredited) else -1
            net[r.event.buyer_id] = net.get(r.event.buyer_id, 0) + sign * r.event.points
    assert {b: p for b, p in net.items() if p} == {b: p for b, p in balance.items() if p}
    debits = [(r.stream_id, r.version) for r in recorded if isinstance(r.event, PointsDebited)]
    assert len(debits) == len(set(debits)) and all(v == 2 for _, v in debits)
