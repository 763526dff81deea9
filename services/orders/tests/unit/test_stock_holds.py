"""Stock holds at placement, on the fakes: an unpaid order holds its units, a placement past what is
available minus what is held is refused, the caps per buyer and per client address stop a bot from
locking stock, and payment, expiry or cancellation gives the units back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application import saga
from quanyi_orders.application.holds import HoldPolicy, client_tag
from quanyi_orders.application.ports import StockLevels
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.domain.events import OrderLine
from quanyi_orders.domain.holds import HoldCaps, HoldRefused, Holds, check
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import RecordRiskDecision, RiskDecision

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = b"test-client-key"
PRICE = Money(1000, "CNY")


class FixedStock(StockLevels):
    def __init__(self, levels: dict[str, int]) -> None:
        self.levels = levels

    async def available(self, sku_ids: Sequence[str]) -> dict[str, int]:
        return {s: self.levels[s] for s in sku_ids if s in self.levels}


def policy(levels: dict[str, int], per_buyer: int = 0, per_client: int = 0) -> HoldPolicy:
    return HoldPolicy(HoldCaps(per_buyer, per_client), FixedStock(levels), KEY)


def order(buyer: str, key: str, sku: str = "sku-a", quantity: int = 1, ip: str = "") -> app.Placement:
    cmd = app.PlaceOrder(buyer, "", "web", [(sku, quantity, PRICE)], key, client_ip=ip)
    return app.prepare(cmd, now=NOW, pay_within=timedelta(minutes=15), client_key=KEY)


async def place(
    log: InMemoryOrdersEventLog, holds: HoldPolicy, *placements: app.Placement
) -> list[app.Placed | Exception]:
    return await app.place_orders(InMemoryOrdersUnitOfWork(log), list(placements), holds)


def test_a_placement_may_hold_only_what_is_available_and_not_held() -> None:
    holds = Holds(by_sku={"sku-a": 3})
    lines = [OrderLine(1, "sku-a", 2, PRICE)]
    check(holds, {"sku-a": 5}, HoldCaps(0, 0), "b", "", lines)
    with pytest.raises(HoldRefused, match="2 available, 3 asked"):
        check(holds, {"sku-a": 5}, HoldCaps(0, 0), "b", "", [OrderLine(1, "sku-a", 3, PRICE)])
    check(holds, {}, HoldCaps(0, 0), "b", "", [OrderLine(1, "sku-a", 99, PRICE)])  # unknown: not checked


def test_two_lines_of_one_sku_hold_their_sum() -> None:
    lines = [OrderLine(1, "sku-a", 2, PRICE), OrderLine(2, "sku-a", 2, PRICE)]
    with pytest.raises(HoldRefused):
        check(Holds(), {"sku-a": 3}, HoldCaps(0, 0), "b", "", lines)


def test_client_tags_are_stable_keyed_digests_never_the_address() -> None:
    tag = client_tag("203.0.113.7", KEY)
    assert tag == client_tag("203.0.113.7", KEY) != client_tag("203.0.113.8", KEY)
    assert "203.0.113.7" not in tag and tag != client_tag("203.0.113.7", b"another key")
    assert client_tag("", KEY) == ""


async def test_placements_past_the_available_stock_are_refused_in_arrival_order() -> None:
    log = InMemoryOrdersEventLog("orders")
    outcomes = await place(log, policy({"sku-a": 3}), order("b1", "k", quantity=2), order("b2", "k"),
                           order("b3", "k"))
    assert [type(o).__name__ for o in outcomes] == ["Placed", "Placed", "HoldRefused"]
    assert "0 available, 1 asked" in str(outcomes[2])
    # Refused: nothing recorded for it.
    assert len([e for e in log.all() if e.type.endswith("OrderPlaced")]) == 2


async def test_a_refused_placement_whose_key_names_an_order_returns_that_order() -> None:
    log = InMemoryOrdersEventLog("orders")
    (first,) = await place(log, policy({"sku-a": 1}), order("b1", "k"))
    (again,) = await place(log, policy({"sku-a": 1}), order("b1", "k"))
    assert isinstance(first, app.Placed) and isinstance(again, app.Placed)
    assert again.replayed and again.order.order_id == first.order.order_id


async def test_open_holds_are_capped_per_buyer_and_per_client_address() -> None:
    log = InMemoryOrdersEventLog("orders")
    caps = policy({"sku-a": 100}, per_buyer=2, per_client=3)
    bot_ip = "198.51.100.1"
    outcomes = await place(log, caps, order("bot", "1", ip=bot_ip), order("bot", "2", ip=bot_ip),
                           order("bot", "3", ip=bot_ip))
    assert isinstance(outcomes[2], HoldRefused) and "per buyer" in str(outcomes[2])
    outcomes = await place(log, caps, order("bot-2", "1", ip=bot_ip), order("bot-3", "1", ip=bot_ip),
                           order("human", "1", ip="192.0.2.9"))
    assert isinstance(outcomes[0], app.Placed)
    assert isinstance(outcomes[1], HoldRefused) and "from this address" in str(outcomes[1])
    assert isinstance(outcomes[2], app.Placed)


async def test_payment_expiry_and_cancellation_give_the_held_units_back() -> None:
    log = InMemoryOrdersEventLog("orders")
    stock = policy({"sku-a": 3})
    placed = await place(log, stock, order("b1", "k"), order("b2", "k"), order("b3", "k"))
    paid, expiring, rejected = (p.order for p in placed if isinstance(p, app.Placed))
    assert isinstance((await place(log, stock, order("b4", "k")))[0], HoldRefused)

    await app.capture_notified_payment(InMemoryOrdersUnitOfWork(log), app.PaymentNotice(
        "psp", "n-1", "x", paid.order_id, "t-1", PRICE))
    await apply_order_facts(InMemoryOrdersUnitOfWork(log), [
        OrderFact(paid.order_id, RecordRiskDecision(RiskDecision.APPROVE), "e-1"),
        OrderFact(rejected.order_id, RecordRiskDecision(RiskDecision.REJECT), "e-2"),
    ])
    assert await saga.expire_orders(lambda: InMemoryOrdersUnitOfWork(log), [expiring.order_id],
                                    NOW + timedelta(minutes=16)) == 1
    uow = InMemoryOrdersUnitOfWork(log)
    async with uow:
        assert (await uow.holds.lock_and_count(["sku-a"], ["b1", "b2", "b3"], [])).by_sku == {}
    outcomes = await place(log, stock, order("b4", "k"), order("b5", "k"), order("b6", "k"))
    assert all(isinstance(o, app.Placed) for o in outcomes)
