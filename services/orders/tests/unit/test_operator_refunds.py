"""An operator's refunds, whole or in part: which keys are released, voided or (on override) refunded
although redeemed, and when the order itself is refunded."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import OrderRefunded, RefundReason, RefundRequested
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    CapturePayment,
    Order,
    Place,
    RecordDelivery,
    RecordRiskDecision,
    RiskDecision,
    Status,
    execute,
)
from quanyi_orders.domain.refund import LineKeys, Refund, RefundOrder, decide_refund, requested

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def place(order_id: str, lines: list[tuple[str, int, Money]]) -> Place:
    fields = {"order_id": order_id, "buyer_id": "b-1", "channel": "web", "idempotency_key": f"k-{order_id}",
              "lines": lines, "placed_at": NOW}
    if "buyer_email" in {f.name for f in dataclasses.fields(Place)}:
        fields["buyer_email"] = ""
    return Place(**fields)  # type: ignore[arg-type]


def paid_order(delivered: bool = False) -> Order:
    order, _ = execute(None, place("o-1", [("sku-a", 3, cny(1000)), ("sku-b", 1, cny(500))]))
    order, _ = execute(order, CapturePayment(cny(3500), "wechatpay-sim", "t-1"))
    order, _ = execute(order, RecordRiskDecision(RiskDecision.APPROVE))
    if delivered:
        order, _ = execute(order, RecordDelivery())
    assert order is not None and order.status in (Status.PAID, Status.FULFILLED)
    return order


def refund(order: Order, lines: tuple[tuple[int, int], ...] = (), keys: dict[int, LineKeys] | None = None,
           before: tuple[Refund, ...] = (), override: bool = False, refund_id: str = "r-1") -> list[object]:
    return list(decide_refund(order, RefundOrder(refund_id, lines, keys or {}, before, "ops@shop",
                                                 override, "customer complaint")))


def test_a_partial_refund_of_undelivered_units_releases_their_keys_and_leaves_the_order_paid() -> None:
    (req,) = refund(paid_order(), ((1, 2),))
    assert isinstance(req, RefundRequested)
    assert (req.amount, req.reason, req.provider, req.txn_id) == (cny(2000), RefundReason.OPERATOR,
                                                                  "wechatpay-sim", "t-1")
    (line,) = req.lines
    assert (line.line_no, line.quantity, line.released, line.voided, line.redeemed) == (1, 2, 2, 0, 0)
    assert (req.actor, req.note) == ("ops@shop", "customer complaint")


def test_delivered_keys_that_were_not_redeemed_are_voided() -> None:
    (req,) = refund(paid_order(True), ((1, 2),), {1: LineKeys(delivered=3, redeemed=1)})
    assert isinstance(req, RefundRequested)
    assert [(ln.released, ln.voided, ln.redeemed) for ln in req.lines] == [(0, 2, 0)]


def test_a_redeemed_key_is_refused_without_the_override_and_refunded_with_it() -> None:
    order = paid_order(True)
    keys = {1: LineKeys(delivered=3, redeemed=3)}
    with pytest.raises(NotAllowed, match="override"):
        refund(order, ((1, 1),), keys)
    (req,) = refund(order, ((1, 1),), keys, override=True)
    assert isinstance(req, RefundRequested) and req.override_redeemed
    assert [(ln.released, ln.voided, ln.redeemed) for ln in req.lines] == [(0, 0, 1)]


def test_a_full_refund_refunds_the_order_and_a_later_one_is_refused() -> None:
    order = paid_order()
    refunded, req = refund(order)
    assert isinstance(refunded, OrderRefunded) and refunded.amount == cny(3500)
    assert isinstance(req, RefundRequested) and req.amount == cny(3500)
    after, _ = execute(order, RecordDelivery())
    assert after is not None
    for event in (refunded, req):
        from quanyi_orders.domain.order import evolve
        order = evolve(order, event)  # type: ignore[arg-type]
    assert order.status is Status.REFUNDED
    with pytest.raises(NotAllowed, match="REFUNDED"):
        refund(order, refund_id="r-2")


def test_refunds_add_up_and_the_last_units_refund_the_order() -> None:
    order = paid_order()
    (first,) = refund(order, ((1, 2),))
    assert isinstance(first, RefundRequested)
    before = (requested(first),)
    with pytest.raises(InvalidOrder, match="at most 1"):
        refund(order, ((1, 2),), before=before, refund_id="r-2")
    last = refund(order, before=before, refund_id="r-2")
    assert isinstance(last[0], OrderRefunded) and last[0].amount == cny(1500)
    assert isinstance(last[1], RefundRequested)
    assert [(ln.line_no, ln.quantity) for ln in last[1].lines] == [(1, 1), (2, 1)]


def test_an_unpaid_order_cannot_be_refunded_by_an_operator() -> None:
    order, _ = execute(None, place("o-2", [("sku-a", 1, cny(1000))]))
    assert order is not None
    with pytest.raises(NotAllowed):
        refund(order)
