"""Bundles of keys, points and memberships: all of a line's components or none, points and memberships
unlimited, each reserved on its own unit after the line's keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_inventory.adapters.mappers import from_proto, to_proto
from quanyi_inventory.domain import allocation
from quanyi_inventory.domain.allocation import AvailableKey, OrderLine, PaidOrder, Reserved, Short, allocate
from quanyi_inventory.domain.catalogue import define_bundle
from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.events import (
    MEMBERSHIP,
    POINTS,
    BundleComponent,
    BundleDefined,
    Entitlement,
    KeyReserved,
    ReservedEntitlement,
    ShortLine,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PTS = Entitlement(POINTS, points=500, value_minor=500, currency="CNY")
VIP = Entitlement(MEMBERSHIP, plan="vip", days=30, value_minor=0, currency="")
BUNDLES = {"box": (BundleComponent("game", 1),)}
EXTRAS = {"box": (PTS, VIP), "perks": (PTS, VIP)}


def keys(sku: str, n: int) -> list[AvailableKey]:
    return [AvailableKey(f"{sku}{i}", sku, 100, "CNY") for i in range(n)]


def test_a_bundle_unit_reserves_its_keys_then_its_points_and_membership_each_on_a_unit_of_its_own() -> None:
    order = PaidOrder("o-1", "b-1", "", "web", (OrderLine(1, "box", 2),))
    decision = allocate([order], {}, {}, {("game", "web"): keys("game", 2)}, NOW, BUNDLES, EXTRAS)
    outcome = decision.outcomes["o-1"]
    assert isinstance(outcome, Reserved)
    assert [(k.key_id, k.unit_no) for k in outcome.keys] == [("game0", 1), ("game1", 2)]
    assert outcome.entitlements == (
        ReservedEntitlement(1, 3, "box", PTS), ReservedEntitlement(1, 4, "box", PTS),
        ReservedEntitlement(1, 5, "box", VIP), ReservedEntitlement(1, 6, "box", VIP),
    )
    event = decision.recorded[0].event
    assert isinstance(event, KeyReserved) and event.entitlements == outcome.entitlements


def test_a_key_component_that_runs_out_leaves_the_points_and_membership_unreserved_too() -> None:
    order = PaidOrder("o-1", "b-1", "", "web", (OrderLine(1, "box", 3),))
    decision = allocate([order], {}, {}, {("game", "web"): keys("game", 2)}, NOW, BUNDLES, EXTRAS)
    assert decision.outcomes["o-1"] == Short((ShortLine(1, "box", 3, 2),))
    assert not any(isinstance(r.event, KeyReserved) for r in decision.recorded)


def test_a_bundle_of_points_and_a_membership_only_needs_no_key_and_never_runs_short() -> None:
    order = PaidOrder("o-1", "b-1", "", "web", (OrderLine(1, "perks", 1000),))
    outcome = allocate([order], {}, {}, {}, NOW, {}, EXTRAS).outcomes["o-1"]
    assert isinstance(outcome, Reserved)
    assert outcome.keys == () and len(outcome.entitlements) == 2000


def test_a_bundle_is_defined_with_valid_points_and_one_membership_per_plan() -> None:
    defined = define_bundle("box", [BundleComponent("game", 1)], [PTS, VIP]).event
    assert defined == BundleDefined("box", (BundleComponent("game", 1),), (PTS, VIP))
    assert from_proto(to_proto(defined)) == defined
    for bad in ([VIP, VIP], [Entitlement(POINTS, points=0)], [Entitlement(MEMBERSHIP, plan="", days=3)],
                [Entitlement(MEMBERSHIP, plan="x", days=0)], [Entitlement(POINTS, points=1, value_minor=5)],
                [Entitlement("coupon")]):
        with pytest.raises(InvalidInput):
            define_bundle("box", [], bad)


lines = st.lists(
    st.tuples(st.sampled_from(["box", "perks", "game"]), st.integers(0, 3)), min_size=1, max_size=3
)


@settings(max_examples=150, deadline=None)
@given(orders=st.lists(lines, min_size=1, max_size=6), stocked=st.integers(0, 8))
def test_folding_the_recorded_decisions_gives_each_orders_outcome_and_no_key_goes_twice(
    orders: list[list[tuple[str, int]]], stocked: int
) -> None:
    paid = [
        PaidOrder(f"o-{i}", "b", "", "web", tuple(OrderLine(n, s, q) for n, (s, q) in enumerate(ls, start=1)))
        for i, ls in enumerate(orders)
    ]
    decision = allocate(paid, {}, {}, {("game", "web"): keys("game", stocked)}, NOW, BUNDLES, EXTRAS)
    folded: dict[str, allocation.Allocation | None] = {}
    for r in decision.recorded:
        if r.aggregate_id in decision.outcomes:
            event = from_proto(to_proto(r.event))  # as the store keeps it
            assert event is not None
            folded[r.aggregate_id] = allocation.evolve(folded.get(r.aggregate_id), event)
    assert folded == decision.outcomes
    handed = [k.key_id for o in decision.outcomes.values() if isinstance(o, Reserved) for k in o.keys]
    assert len(handed) == len(set(handed))
    for order in paid:
        outcome = decision.outcomes[order.order_id]
        if isinstance(outcome, Reserved):
            # Every unit of a bundle line has each of its points and memberships, none of a plain line.
            for line in order.lines:
                got = [e for e in outcome.entitlements if e.line_no == line.line_no]
                assert len(got) == line.quantity * len(EXTRAS.get(line.sku_id, ()))
                units = [k.unit_no for k in outcome.keys if k.line_no == line.line_no] + [e.unit_no for e in got]
                assert sorted(units) == list(range(1, len(units) + 1))


def test_a_refund_of_a_bundle_takes_back_only_its_keys_and_one_of_points_and_memberships_only_none() -> None:
    from quanyi_inventory.domain.events import HeldKey, RefundKeysSettled
    from quanyi_inventory.domain.key_life import OrderKey, OrderKeys, RefundUnits, SettleRefund, decide

    game_key = OrderKey(HeldKey("k1", "game", "p1", 1, 1), "delivered")
    state = OrderKeys("o-1", 2, True, (game_key,))
    bundles = {"box": (BundleComponent("game", 1),), "perks": ()}  # as Catalogue.bundles answers them
    refund = SettleRefund("o-1", "r-1", (RefundUnits(1, "box", 1), RefundUnits(2, "perks", 3)), "system",
                          False, "", "e-1")
    [settled] = decide(state, refund, bundles)
    assert isinstance(settled, RefundKeysSettled)
    assert [k.key_id for k in settled.voided] == ["k1"] and not settled.released
    only = SettleRefund("o-2", "r-2", (RefundUnits(1, "perks", 1),), "system", False, "", "e-2")
    [nothing] = decide(OrderKeys("o-2", 2, True, ()), only, bundles)
    assert isinstance(nothing, RefundKeysSettled) and not (nothing.voided or nothing.released)
