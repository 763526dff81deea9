"""The keys an order holds after their reservation, decided purely: delivery, redemption, refunds."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_inventory.domain.events import (
    ALLOCATION,
    RELEASED,
    VOIDED,
    VOIDED_UNDELIVERED,
    BundleComponent,
    HeldKey,
    KeysDelivered,
    KeysRedeemed,
    Recorded,
    RefundedKeyRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
)
from quanyi_inventory.domain.key_life import (
    DELIVERED,
    REDEEMED,
    RESERVED,
    Command,
    Deliver,
    OrderKey,
    OrderKeys,
    Redeem,
    RefundUnits,
    SettleRefund,
    TakenKey,
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


def voided_by_refund() -> tuple[OrderKeys, RefundKeysSettled]:
    """An order of two delivered keys whose refund of one unit voided k1 (heard before its redemption)."""
    state = order(OrderKey(key(1), DELIVERED), OrderKey(key(2), DELIVERED))
    [settled] = decide(state, refund(1, refund_id="r1"), {})
    assert isinstance(settled, RefundKeysSettled) and settled.voided == (key(1),)
    return evolve(state, settled), settled


def test_a_redemption_heard_after_the_refund_that_voided_its_key_is_recorded_with_the_refund() -> None:
    state, _ = voided_by_refund()
    assert state.keys == (OrderKey(key(2), DELIVERED),)
    assert state.taken_back == (TakenKey(key(1), "r1", VOIDED),)
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    [late] = decide(state, Redeem("o", "k1", "partner-x", at, "redeemed-1"), {})
    assert late == RefundedKeyRedeemed("o", key(1), "r1", VOIDED, "partner-x", at, "redeemed-1")
    after = evolve(state, late)
    assert after.version == state.version + 1
    assert after.keys == state.keys  # the key stays as the refund left it
    assert after.taken_back == (TakenKey(key(1), "r1", VOIDED, redeemed=True),)


def test_the_same_late_redemption_heard_twice_records_one_event() -> None:
    state, _ = voided_by_refund()
    recorded = decide_all(
        {"o": state},
        [Redeem("o", "k1", "p", None, "e1"), Redeem("o", "k1", "p", None, "e2")],
        {},
    )
    assert [(r.version, type(r.event), r.cause) for r in recorded] == [
        (state.version + 1, RefundedKeyRedeemed, "e1")]
    later = evolve(state, recorded[0].event)
    assert decide(later, Redeem("o", "k1", "p", None, "e3"), {}) == []


def test_a_refund_and_the_redemption_it_raced_in_one_batch_record_the_late_redemption_after_it() -> None:
    state = order(OrderKey(key(1), RESERVED, revealed=True), OrderKey(key(2), RESERVED))
    recorded = decide_all(
        {"o": state},
        [refund(2, refund_id="r1"), Redeem("o", "k1", "p", None, "e1"), Redeem("o", "k2", "p", None, "e2")],
        {},
    )
    assert [(r.version, type(r.event)) for r in recorded] == [
        (2, RefundKeysSettled), (3, RefundedKeyRedeemed), (4, RefundedKeyRedeemed)]
    late = [r.event for r in recorded if isinstance(r.event, RefundedKeyRedeemed)]
    assert [(e.key, e.taken, e.refund_id) for e in late] == [
        (key(1), VOIDED_UNDELIVERED, "r1"), (key(2), RELEASED, "r1")]


def test_a_redemption_of_a_key_the_order_never_held_or_kept_on_an_override_records_nothing() -> None:
    state = order(OrderKey(key(1), REDEEMED))
    [settled] = decide(state, refund(1, override=True), {})
    kept = evolve(state, settled)
    assert kept.taken_back == ()
    assert decide(kept, Redeem("o", "k1", "p", None, "e1"), {}) == []
    assert decide(kept, Redeem("o", "k9", "p", None, "e2"), {}) == []


# -- a property: random reports and refunds of one order's keys ----------------------------------------

reports = st.one_of(
    st.tuples(st.just("deliver"), st.lists(st.integers(1, 4), min_size=1, max_size=4)),
    st.tuples(st.just("redeem"), st.integers(1, 5)),
    st.tuples(st.just("refund"), st.integers(1, 3), st.booleans()),
)


def commands_of(script: list[tuple[object, ...]]) -> list[Command]:
    out: list[Command] = []
    for n, step in enumerate(script):
        if step[0] == "deliver":
            numbers = step[1]
            assert isinstance(numbers, list)
            out.append(Deliver("o", tuple(f"k{i}" for i in numbers), f"e{n}"))
        elif step[0] == "redeem":
            out.append(Redeem("o", f"k{step[1]}", "p", None, f"e{n}"))
        else:
            units, override = step[1], step[2]
            assert isinstance(units, int) and isinstance(override, bool)
            out.append(SettleRefund("o", f"r{n}", (RefundUnits(1, "s", units),), "ops", override, "", f"e{n}"))
    return out


@settings(max_examples=300, deadline=None)
@given(
    revealed=st.lists(st.booleans(), min_size=4, max_size=4),
    script=st.lists(reports, max_size=25),
    cut=st.integers(0, 25),
)
def test_folding_the_recorded_key_events_gives_the_state_and_a_late_redemption_is_recorded_once_per_key(
    revealed: list[bool], script: list[tuple[object, ...]], cut: int
) -> None:
    start = order(*(OrderKey(key(n), RESERVED, revealed=revealed[n - 1]) for n in range(1, 5)))
    commands = commands_of(script)
    # One batch, two batches, or one command at a time: the same events at the same versions.
    whole = decide_all({"o": start}, commands, {})
    state = start
    for r in whole:
        assert r.version == state.version + 1
        state = evolve(state, r.event)
    cut = min(cut, len(commands))
    first = decide_all({"o": start}, commands[:cut], {})
    middle = start
    for r in first:
        middle = evolve(middle, r.event)
    assert first + decide_all({"o": middle}, commands[cut:], {}) == whole
    one_by_one: list[Recorded] = []
    current = start
    expected_late: list[str] = []  # the first report of a key after a refund took it back
    for command in commands:
        if isinstance(command, Redeem) and any(
            t.key.key_id == command.key_id and not t.redeemed for t in current.taken_back
        ):
            expected_late.append(command.key_id)
        for r in decide_all({"o": current}, [command], {}):
            one_by_one.append(r)
            current = evolve(current, r.event)
    assert one_by_one == whole and current == state

    # Every key is held, or taken back by exactly one refund, never both.
    held = {k.key.key_id for k in state.keys}
    taken = {t.key.key_id: t for t in state.taken_back}
    assert held.isdisjoint(taken) and held | set(taken) == {f"k{n}" for n in range(1, 5)}
    settled = {r.event.refund_id: r.event for r in whole if isinstance(r.event, RefundKeysSettled)}
    late = [r.event for r in whole if isinstance(r.event, RefundedKeyRedeemed)]
    # A late redemption only of a key a refund took back (before it), naming that refund; once per key.
    assert len({e.key.key_id for e in late}) == len(late)
    for e in late:
        how = settled[e.refund_id]
        assert e.key in {RELEASED: how.released, VOIDED: how.voided,
                         VOIDED_UNDELIVERED: how.voided_undelivered}[e.taken]
        assert taken[e.key.key_id].redeemed and taken[e.key.key_id].refund_id == e.refund_id
    redeemed_after = {t.key.key_id for t in state.taken_back if t.redeemed}
    assert redeemed_after == {e.key.key_id for e in late}
    assert [e.key.key_id for e in late] == expected_late
