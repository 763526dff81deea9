"""Coupons on the domain and the fakes: what a coupon takes off (rounding, scope, minimum, caps), the
coupon aggregate is the fold of its events, and a placement with a code records its discount and holds a
use that cancellation, expiry or a whole refund gives back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import coupons
from quanyi_orders.application import orders as app
from quanyi_orders.domain import coupon as domain
from quanyi_orders.domain.coupon import (
    Coupon,
    CouponExists,
    CouponKind,
    CouponNotFound,
    CouponRefused,
    CouponTerms,
    CreateCoupon,
    DisableCoupon,
    Usage,
    discount,
)
from quanyi_orders.domain.errors import InvalidOrder
from quanyi_orders.domain.events import OrderLine, OrderPlaced
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Expire, execute

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def line(sku: str, qty: int, price: int, n: int = 1) -> OrderLine:
    return OrderLine(n, sku, qty, cny(price))


def made(terms: CouponTerms) -> Coupon:
    coupon = domain.fold(domain.decide(None, CreateCoupon(terms, "ops", NOW)))
    assert coupon is not None
    return coupon


FIXED = CouponTerms("Save5", CouponKind.FIXED, amount_off=cny(500))
PERCENT = CouponTerms("Tenth", CouponKind.PERCENT, percent_off_bps=1000)


def test_a_percent_coupon_is_rounded_down_to_a_whole_fen_and_capped_by_its_maximum() -> None:
    assert discount(made(PERCENT), Usage(), "b", [line("a", 1, 999)], NOW) == cny(99)  # 99.9 -> 99
    capped = CouponTerms("Tenth", CouponKind.PERCENT, percent_off_bps=1000, max_discount=cny(50))
    assert discount(made(capped), Usage(), "b", [line("a", 1, 999)], NOW) == cny(50)


def test_a_fixed_coupon_takes_at_most_the_eligible_lines_and_leaves_one_fen_to_pay() -> None:
    assert discount(made(FIXED), Usage(), "b", [line("a", 1, 2000)], NOW) == cny(500)
    assert discount(made(FIXED), Usage(), "b", [line("a", 1, 300)], NOW) == cny(299)
    scoped = CouponTerms("Save5", CouponKind.FIXED, amount_off=cny(500), sku_ids=frozenset({"a"}))
    lines = [line("a", 1, 200), line("b", 1, 1000, 2)]
    assert discount(made(scoped), Usage(), "b", lines, NOW) == cny(200)


@pytest.mark.parametrize(("terms", "usage", "lines", "now", "reason"), [
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), min_order=cny(1000)), Usage(),
     [line("a", 1, 999)], NOW, "at least 1000"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), sku_ids=frozenset({"z"})), Usage(),
     [line("a", 1, 999)], NOW, "none of the order's SKUs"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), valid_from=NOW + timedelta(1)), Usage(),
     [line("a", 1, 999)], NOW, "not valid before"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), expires_at=NOW), Usage(),
     [line("a", 1, 999)], NOW, "expired"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), total_cap=2), Usage(2, {}),
     [line("a", 1, 999)], NOW, "used up"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), per_buyer_cap=1), Usage(1, {"b": 1}),
     [line("a", 1, 999)], NOW, "for this buyer"),
    (CouponTerms("X", CouponKind.FIXED, amount_off=Money(1, "USD")), Usage(),
     [line("a", 1, 999)], NOW, "not for orders in CNY"),
])
def test_a_coupon_the_order_cannot_take_is_refused_with_its_reason(
    terms: CouponTerms, usage: Usage, lines: list[OrderLine], now: datetime, reason: str
) -> None:
    with pytest.raises(CouponRefused, match=reason):
        discount(made(terms), usage, "b", lines, now)


def test_an_unknown_or_disabled_coupon_is_refused() -> None:
    with pytest.raises(CouponRefused, match="unknown"):
        discount(None, Usage(), "b", [line("a", 1, 100)], NOW)
    off = domain.fold(domain.decide(made(FIXED), DisableCoupon("ops")), made(FIXED))
    with pytest.raises(CouponRefused, match="disabled"):
        discount(off, Usage(), "b", [line("a", 1, 1000)], NOW)


def test_terms_that_make_no_sense_are_refused_at_creation() -> None:
    for bad in (
        CouponTerms("", CouponKind.FIXED, amount_off=cny(1)),
        CouponTerms("has space", CouponKind.FIXED, amount_off=cny(1)),
        CouponTerms("X", CouponKind.FIXED),
        CouponTerms("X", CouponKind.PERCENT, percent_off_bps=10_001),
        CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), total_cap=-1),
        CouponTerms("X", CouponKind.FIXED, amount_off=cny(1), valid_from=NOW, expires_at=NOW),
    ):
        with pytest.raises(InvalidOrder):
            domain.decide(None, CreateCoupon(bad, "ops", NOW))
    with pytest.raises(CouponExists):
        domain.decide(made(FIXED), CreateCoupon(FIXED, "ops", NOW))
    with pytest.raises(CouponNotFound):
        domain.decide(None, DisableCoupon("ops"))


@given(
    st.lists(st.sampled_from(["create", "disable"]), max_size=6),
    st.integers(1, 10_000), st.integers(0, 5), st.integers(0, 5),
)
def test_a_coupon_is_the_fold_of_the_events_its_commands_recorded(
    commands: list[str], bps: int, total_cap: int, per_buyer: int
) -> None:
    terms = CouponTerms("Any-1", CouponKind.PERCENT, percent_off_bps=bps, total_cap=total_cap,
                        per_buyer_cap=per_buyer)
    state: Coupon | None = None
    recorded: list[domain.CouponEvent] = []
    for name in commands:
        command = CreateCoupon(terms, "ops", NOW) if name == "create" else DisableCoupon("ops")
        try:
            new = domain.decide(state, command)
        except (CouponExists, CouponNotFound):
            continue
        recorded += new
        state = domain.fold(new, state)
        assert state == domain.fold(recorded)
    if state is not None:
        assert state.disabled == ("disable" in commands[commands.index("create"):])
        assert state.version == len(recorded)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 100_000)), min_size=1, max_size=4),
       st.integers(1, 10_000), st.one_of(st.none(), st.integers(1, 100_000)))
def test_a_discount_is_whole_fen_never_the_whole_order_and_never_above_its_limits(
    lines: list[tuple[int, int]], bps: int, cap: int | None
) -> None:
    order = [line(f"s{i}", q, p, i + 1) for i, (q, p) in enumerate(lines)]
    gross = sum(q * p for q, p in lines)
    terms = CouponTerms("P", CouponKind.PERCENT, percent_off_bps=bps,
                        max_discount=cny(cap) if cap is not None else None)
    try:
        off = discount(made(terms), Usage(), "b", order, NOW)
    except CouponRefused:
        assert gross * bps // 10_000 == 0 or gross <= 1
        return
    assert 0 < off.minor_units < gross
    assert off.minor_units <= gross * bps // 10_000
    assert cap is None or off.minor_units <= cap


# -- on the fakes ----------------------------------------------------------------------------------


def placement(buyer: str, key: str, code: str, price: int = 1000) -> app.Placement:
    cmd = app.PlaceOrder(buyer, "", "web", [("sku-a", 1, cny(price))], key, coupon_code=code)
    return app.prepare(cmd, now=NOW, pay_within=timedelta(minutes=15))


async def test_a_placement_with_a_code_records_its_discount_and_the_payable_total() -> None:
    log = InMemoryOrdersEventLog("orders")
    await coupons.create_coupon(InMemoryOrdersUnitOfWork(log), FIXED, "ops", NOW)
    [placed] = await app.place_orders(InMemoryOrdersUnitOfWork(log), [placement("b1", "k1", "SAVE5")])
    assert isinstance(placed, app.Placed)
    assert placed.order.total == cny(500) and placed.order.discount == cny(500)
    event = placed.order  # the stored order is the fold of its OrderPlaced
    stored = await app.get_order(InMemoryOrdersUnitOfWork(log), event.order_id)
    assert stored.total == cny(500) and stored.discount == cny(500)
    [(coupon, uses)], _ = await coupons.list_coupons(InMemoryOrdersUnitOfWork(log), 0)
    assert coupon.terms.code == "Save5" and uses == 1


async def test_the_last_use_goes_to_the_first_placement_and_an_expired_order_gives_it_back() -> None:
    log = InMemoryOrdersEventLog("orders")
    terms = CouponTerms("ONE", CouponKind.FIXED, amount_off=cny(100), total_cap=1)
    await coupons.create_coupon(InMemoryOrdersUnitOfWork(log), terms, "ops", NOW)
    first, second = await app.place_orders(
        InMemoryOrdersUnitOfWork(log), [placement("b1", "k1", "one"), placement("b2", "k2", "one")]
    )
    assert isinstance(first, app.Placed) and isinstance(second, CouponRefused)
    assert "used up" in str(second)
    uow = InMemoryOrdersUnitOfWork(log)
    async with uow:
        order = await uow.orders.get(first.order.order_id)
        assert order is not None and order.pay_by is not None
        _, events = execute(order, Expire(order.pay_by))
        from quanyi_orders.adapters.proto_mapping import order_new_events
        await uow.events.append(order_new_events(order.order_id, order.version, events))
        await uow.commit()
    [again] = await app.place_orders(InMemoryOrdersUnitOfWork(log), [placement("b2", "k3", "ONE")])
    assert isinstance(again, app.Placed) and again.order.discount == cny(100)


async def test_a_code_is_taken_once_whatever_its_case_and_disabling_stops_new_orders() -> None:
    log = InMemoryOrdersEventLog("orders")
    await coupons.create_coupon(InMemoryOrdersUnitOfWork(log), FIXED, "ops", NOW)
    with pytest.raises(CouponExists):
        await coupons.create_coupon(InMemoryOrdersUnitOfWork(log), CouponTerms(
            "SAVE5", CouponKind.FIXED, amount_off=cny(1)), "ops", NOW)
    coupon, _ = await coupons.disable_coupon(InMemoryOrdersUnitOfWork(log), "save5", "ops")
    assert coupon.disabled
    [refused] = await app.place_orders(InMemoryOrdersUnitOfWork(log), [placement("b1", "k1", "Save5")])
    assert isinstance(refused, CouponRefused) and "disabled" in str(refused)


def test_an_order_placed_with_a_discount_pays_the_lines_less_it() -> None:
    cmd = app.prepare(app.PlaceOrder("b", "", "web", [("a", 2, cny(500))], "k"), now=NOW).command
    assert cmd is None  # no code: nothing to decide again
    placed = app.prepare(app.PlaceOrder("b", "", "web", [("a", 2, cny(500))], "k", coupon_code="X"), now=NOW)
    assert placed.command is not None
    from dataclasses import replace
    order, events = execute(None, replace(placed.command, coupon_code="X", discount=cny(300)))
    assert order is not None and order.total == cny(700) and order.gross == cny(1000)
    assert isinstance(events[0], OrderPlaced) and events[0].discount == cny(300)
    with pytest.raises(InvalidOrder):
        execute(None, replace(placed.command, coupon_code="X", discount=cny(1000)))
