"""The keys an order holds after their reservation, decided purely: delivery, redemption, refunds."""

from __future__ import annotations

from quanyi_inventory.domain.events import (
    ALLOCATION,
    BundleComponent,
    HeldKey,
    KeysDelivered,
    KeysRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
)
from quanyi_inventory.domain.key_life import (
    DELIVERED,
    REDEEMED,
    RESERVED,
    Deliver,
    OrderKey,
    OrderKeys,
    Redeem,
    RefundUnits,
    SettleRefund,
    decide,
    decide_all,
    evolve,
)


def key(n: int, sku: str = "s", line: int = 1) -> HeldKey:
    return HeldKey(f"k{n}", sku, "p", line, n)


def order(*keys: OrderKey, version: int = 1) -> OrderKeys:
    return OrderKeys("o", version, True, keys)


def refund(units: int, *, sku: str = "s", override: bool = False, refund_id: str = "r") -> SettleRefund:
    return SettleRefund("o", refund_id, (RefundUnits(1, sku, units),), "ops", override, "why", "e")


def test_a_revealed_key_is_voided_even_when_its_delivery_was_never_reported() -> None:
    state = order(OrderKey(key(1), RESERVED, revealed=True), OrderKey(key(2), RESERVED))
    [settled] = decide(state, refund(2), {})
    assert isinstance(settled, RefundKeysSettled)
    assert (settled.released, settled.voided_undelivered, settled.voided) == ((key(2),), (key(1),), ())


def test_a_partial_refund_takes_the_undelivered_keys_first_then_the_delivered() -> None:
    state = order(OrderKey(key(1), DELIVERED), OrderKey(key(2), RESERVED), OrderKey(key(3), DELIVERED))
    [settled] = decide(state, refund(2), {})
    assert isinstance(settled, RefundKeysSettled)
    assert (settled.released, settled.voided) == ((key(2),), (key(1),))


def test_a_redeemed_key_is_refused_without_the_override_and_kept_with_it() -> None:
    state = order(OrderKey(key(1), REDEEMED))
    [refused] = decide(state, refund(1), {})
    assert isinstance(refused, RefundKeysRefused) and "override" in refused.reason
    [settled] = decide(state, refund(1, override=True), {})
    assert isinstance(settled, RefundKeysSettled) and settled.redeemed == (key(1),)
    after = evolve(state, settled)
    assert after.keys[0].refunded and after.version == 2
    [again] = decide(after, refund(1, override=True, refund_id="r2"), {})
    assert isinstance(again, RefundKeysRefused)


def test_a_bundle_lines_refund_takes_each_components_keys_per_unit() -> None:
    keys = (OrderKey(HeldKey("g1", "game", "p", 1, 1), RESERVED),
            OrderKey(HeldKey("v1", "vip", "p", 1, 2), DELIVERED),
            OrderKey(HeldKey("v2", "vip", "p", 1, 3), RESERVED))
    bundles = {"bundle": (BundleComponent("game", 1), BundleComponent("vip", 2))}
    [settled] = decide(order(*keys), refund(1, sku="bundle"), bundles)
    assert isinstance(settled, RefundKeysSettled)
    assert {k.key_id for k in settled.released} == {"g1", "v2"} and [k.key_id for k in settled.voided] == ["v1"]


def test_an_order_that_was_short_settles_with_no_key_and_one_never_allocated_records_nothing() -> None:
    [settled] = decide(OrderKeys("o", 1, False), refund(1), {})
    assert isinstance(settled, RefundKeysSettled) and not settled.released
    assert decide(None, refund(1), {}) == []


def test_reports_only_move_keys_forward_and_a_redemption_before_delivery_delivers_first() -> None:
    state = order(OrderKey(key(1), RESERVED), OrderKey(key(2), REDEEMED))
    recorded = decide_all(
        {"o": state},
        [Redeem("o", "k1", "p", None, "e1"), Deliver("o", ("k1", "k2"), "e2"), Redeem("o", "k9", "p", None, "e3")],
        {},
    )
    assert [(r.aggregate_type, r.version, type(r.event)) for r in recorded] == [
        (ALLOCATION, 2, KeysDelivered), (ALLOCATION, 3, KeysRedeemed)]
    assert all(r.cause == "e1" for r in recorded)
