from datetime import UTC, datetime

import pytest
from quanyi_orders.domain.errors import AmountMismatch, InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    OrderCancelled,
    OrderFulfilled,
    OrderHeld,
    OrderLine,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    PaymentCaptured,
    RefundReason,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, RiskDecision, Status

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def placed(lines: list[tuple[str, int, Money]] | None = None) -> Order:
    order = Order.place(
        order_id="o-1",
        buyer_id="b-1",
        buyer_email="b@example.com",
        channel="web",
        lines=[("sku-a", 2, cny(1500)), ("sku-b", 1, cny(990))] if lines is None else lines,
        placed_at=NOW,
    )
    return saved(order)


def saved(order: Order) -> Order:
    """The order as the repository leaves it after saving: no pending events, nothing unsaved."""
    order.pending_events.clear()
    order.changed = False
    return order


def status(order: Order) -> Status:
    """The current status (a call, so that type checkers do not carry an earlier assertion forward)."""
    return order.status


def new_events(order: Order) -> list[object]:
    events: list[object] = list(order.pending_events)
    order.pending_events.clear()
    return events


TOTAL = cny(2 * 1500 + 990)


# -- placing ---------------------------------------------------------------------------------------


def test_placing_an_order_records_order_placed_with_numbered_lines_and_the_total() -> None:
    order = Order.place(
        order_id="o-1", buyer_id="b-1", buyer_email="b@example.com", channel="web",
        lines=[("sku-a", 2, cny(1500)), ("sku-b", 1, cny(990))], placed_at=NOW,
    )
    assert order.status is Status.PENDING_PAYMENT
    assert order.risk_decision is RiskDecision.PENDING
    assert order.version == 1
    assert order.total == TOTAL
    assert order.pending_events == [
        OrderPlaced(
            "o-1", "b-1", "b@example.com", "web",
            (OrderLine(1, "sku-a", 2, cny(1500)), OrderLine(2, "sku-b", 1, cny(990))), TOTAL,
        )
    ]


def test_an_order_without_lines_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="at least one line"):
        placed(lines=[])


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_a_quantity_outside_one_to_a_hundred_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidOrder, match="quantity"):
        placed(lines=[("sku-a", quantity, cny(100))])


def test_quantities_of_one_and_a_hundred_are_accepted() -> None:
    order = placed(lines=[("sku-a", 1, cny(100)), ("sku-b", 100, cny(1))])
    assert order.total == cny(200)


def test_lines_in_different_currencies_are_refused() -> None:
    with pytest.raises(InvalidOrder, match="same currency"):
        placed(lines=[("sku-a", 1, cny(100)), ("sku-b", 1, Money(100, "USD"))])


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="negative"):
        placed(lines=[("sku-a", 1, cny(-1))])


def test_a_free_item_is_accepted() -> None:
    assert placed(lines=[("sku-a", 1, cny(0))]).total == cny(0)


def test_a_price_without_a_currency_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="currency"):
        placed(lines=[("sku-a", 1, Money(100, ""))])


def test_a_line_without_a_sku_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="SKU"):
        placed(lines=[("", 1, cny(100))])


def test_an_order_without_a_buyer_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="buyer"):
        Order.place(order_id="o", buyer_id="", buyer_email="", channel="web",
                    lines=[("sku-a", 1, cny(1))], placed_at=NOW)


def test_a_total_too_large_for_the_ledger_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="too large"):
        placed(lines=[("sku-a", 100, cny(2**62))])


# -- payment and risk in either order --------------------------------------------------------------


def test_a_payment_before_the_risk_decision_waits_for_approval() -> None:
    order = placed()
    assert order.capture_payment(TOTAL, "psp-sim", "txn-1") is True
    assert order.status is Status.CAPTURED
    assert new_events(order) == [PaymentCaptured("o-1", "psp-sim", "txn-1", TOTAL)]

    order.record_risk(RiskDecision.APPROVE)
    assert status(order) is Status.PAID
    [paid] = new_events(order)
    assert isinstance(paid, OrderPaid)
    assert paid.txn_id == "txn-1" and paid.total == TOTAL and paid.buyer_email == "b@example.com"
    assert order.version == 3


def test_an_approval_before_the_payment_is_remembered_and_the_payment_releases_the_order() -> None:
    order = placed()
    order.record_risk(RiskDecision.APPROVE)
    assert order.status is Status.PENDING_PAYMENT
    assert order.risk_decision is RiskDecision.APPROVE
    assert new_events(order) == []
    assert order.changed and order.version == 1

    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    events = new_events(order)
    assert [type(e) for e in events] == [PaymentCaptured, OrderPaid]
    assert status(order) is Status.PAID
    assert order.version == 3


def test_a_payment_of_the_wrong_amount_is_refused_and_records_nothing() -> None:
    order = placed()
    with pytest.raises(AmountMismatch, match="amount does not match the order"):
        order.capture_payment(cny(TOTAL.minor_units - 1), "psp-sim", "txn-1")
    assert order.status is Status.PENDING_PAYMENT
    assert order.captured_txn_id is None
    assert order.pending_events == []
    assert not order.changed and order.version == 1


def test_a_payment_in_another_currency_is_refused() -> None:
    order = placed()
    with pytest.raises(AmountMismatch):
        order.capture_payment(Money(TOTAL.minor_units, "USD"), "psp-sim", "txn-1")
    assert order.pending_events == []


def test_the_same_transaction_notified_twice_is_captured_once() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    new_events(order)
    assert order.capture_payment(TOTAL, "psp-sim", "txn-1") is False
    assert order.pending_events == []
    assert order.version == 2


def test_a_second_transaction_for_a_paid_order_is_refused() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    new_events(order)
    with pytest.raises(NotAllowed, match="another transaction"):
        order.capture_payment(TOTAL, "psp-sim", "txn-2")
    assert order.pending_events == []


def test_a_cancelled_order_takes_no_payment() -> None:
    order = placed()
    order.record_risk(RiskDecision.REJECT)
    new_events(order)
    with pytest.raises(NotAllowed, match="CANCELLED"):
        order.capture_payment(TOTAL, "psp-sim", "txn-1")
    assert order.pending_events == []


def test_a_repeated_risk_decision_changes_nothing() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    order.record_risk(RiskDecision.APPROVE)
    new_events(order)
    version = order.version
    order.record_risk(RiskDecision.APPROVE)
    order.record_risk(RiskDecision.REJECT)
    assert order.pending_events == []
    assert order.status is Status.PAID and order.version == version


def test_a_pending_risk_decision_is_not_a_decision() -> None:
    with pytest.raises(ValueError):
        placed().record_risk(RiskDecision.PENDING)


# -- review ----------------------------------------------------------------------------------------


def test_a_review_decision_holds_the_order_with_its_reasons() -> None:
    order = placed()
    order.record_risk(RiskDecision.REVIEW, ["velocity: 6 orders in 60s"])
    assert order.status is Status.UNDER_REVIEW
    assert new_events(order) == [OrderHeld("o-1", ("velocity: 6 orders in 60s",))]
    assert order.version == 2


def test_a_held_order_takes_its_payment_and_stays_held() -> None:
    order = placed()
    order.record_risk(RiskDecision.REVIEW)
    new_events(order)
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    assert order.status is Status.UNDER_REVIEW
    assert new_events(order) == [PaymentCaptured("o-1", "psp-sim", "txn-1", TOTAL)]


def test_approving_a_held_paid_order_releases_it() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    order.record_risk(RiskDecision.REVIEW)
    new_events(order)
    order.review(approve=True)
    assert order.status is Status.PAID
    assert order.risk_decision is RiskDecision.APPROVE
    assert [type(e) for e in new_events(order)] == [OrderPaid]


def test_approving_a_held_unpaid_order_sends_it_back_to_await_payment() -> None:
    order = placed()
    order.record_risk(RiskDecision.REVIEW)
    new_events(order)
    order.review(approve=True)
    assert order.status is Status.PENDING_PAYMENT
    assert order.risk_decision is RiskDecision.APPROVE
    assert new_events(order) == []
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    assert status(order) is Status.PAID


def test_rejecting_a_held_paid_order_refunds_it_without_having_released_it() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    order.record_risk(RiskDecision.REVIEW)
    new_events(order)
    order.review(approve=False)
    assert order.status is Status.REFUNDED
    assert order.risk_decision is RiskDecision.REJECT
    assert new_events(order) == [OrderRefunded("o-1", "web", TOTAL, RefundReason.REVIEW_REJECTED, False)]


def test_rejecting_a_held_unpaid_order_cancels_it() -> None:
    order = placed()
    order.record_risk(RiskDecision.REVIEW)
    new_events(order)
    order.review(approve=False)
    assert order.status is Status.CANCELLED
    [cancelled] = new_events(order)
    assert isinstance(cancelled, OrderCancelled)


def test_an_order_not_under_review_cannot_be_reviewed() -> None:
    order = placed()
    with pytest.raises(NotAllowed, match="not under review"):
        order.review(approve=True)
    assert not order.changed


# -- rejection -------------------------------------------------------------------------------------


def test_a_rejected_unpaid_order_is_cancelled() -> None:
    order = placed()
    order.record_risk(RiskDecision.REJECT)
    assert order.status is Status.CANCELLED
    assert order.risk_decision is RiskDecision.REJECT
    assert new_events(order) == [OrderCancelled("o-1", "rejected by risk")]


def test_a_rejected_paid_order_is_refunded_without_having_been_released() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    new_events(order)
    order.record_risk(RiskDecision.REJECT)
    assert order.status is Status.REFUNDED
    assert new_events(order) == [OrderRefunded("o-1", "web", TOTAL, RefundReason.REVIEW_REJECTED, False)]


# -- fulfilment ------------------------------------------------------------------------------------


def paid() -> Order:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    order.record_risk(RiskDecision.APPROVE)
    return saved(order)


def test_a_released_order_short_of_stock_is_refunded_as_released() -> None:
    order = paid()
    order.stock_short()
    assert order.status is Status.REFUNDED
    assert new_events(order) == [OrderRefunded("o-1", "web", TOTAL, RefundReason.STOCK_SHORT, True)]
    assert order.version == 4


def test_stock_short_twice_refunds_once() -> None:
    order = paid()
    order.stock_short()
    new_events(order)
    order.stock_short()
    assert order.pending_events == []


def test_an_order_not_released_cannot_run_short_of_stock() -> None:
    with pytest.raises(NotAllowed):
        placed().stock_short()


def test_a_delivered_order_is_fulfilled_once() -> None:
    order = paid()
    order.delivered()
    assert order.status is Status.FULFILLED
    assert new_events(order) == [OrderFulfilled("o-1")]
    order.delivered()
    assert order.pending_events == []
    assert order.version == 4


def test_an_order_not_released_cannot_be_delivered() -> None:
    order = placed()
    order.capture_payment(TOTAL, "psp-sim", "txn-1")
    with pytest.raises(NotAllowed):
        order.delivered()


def test_a_refunded_order_cannot_be_delivered() -> None:
    order = paid()
    order.stock_short()
    with pytest.raises(NotAllowed):
        order.delivered()


def test_every_event_raises_the_version_by_one() -> None:
    order = Order.place(order_id="o", buyer_id="b", buyer_email="", channel="web",
                        lines=[("s", 1, cny(5))], placed_at=NOW)
    order.capture_payment(cny(5), "psp-sim", "t")
    order.record_risk(RiskDecision.APPROVE)
    order.delivered()
    assert len(order.pending_events) == order.version == 4
