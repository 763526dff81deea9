from datetime import UTC, datetime, timedelta

import pytest
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
    OrderApproved,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderHeld,
    OrderLine,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    PaymentCaptured,
    RefundReason,
    RefundRequested,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    CapturePayment,
    Command,
    Expire,
    Order,
    Place,
    RecordDelivery,
    RecordRiskDecision,
    RecordStockShort,
    Review,
    RiskDecision,
    Status,
    decide,
    evolve,
    execute,
    fold,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


TOTAL = cny(2 * 1500 + 990)
LINES = [("sku-a", 2, cny(1500)), ("sku-b", 1, cny(990))]


def place(lines: list[tuple[str, int, Money]] | None = None, buyer_id: str = "b-1") -> Place:
    return Place("o-1", buyer_id, "b@example.com", "web", LINES if lines is None else lines, "key-1", NOW)


class Tracked:
    """An order driven by commands, as the application drives it: decide, then evolve by the events."""

    def __init__(self, order: Order) -> None:
        self.order = order

    def do(self, command: Command) -> list[Event]:
        after, events = execute(self.order, command)
        assert after is not None
        self.order = after
        return events

    @property
    def status(self) -> Status:
        return self.order.status


def placed(lines: list[tuple[str, int, Money]] | None = None) -> Tracked:
    order, _ = execute(None, place(lines))
    assert order is not None
    return Tracked(order)


def capture(amount: Money = TOTAL, txn_id: str = "txn-1") -> CapturePayment:
    return CapturePayment(amount, "psp-sim", txn_id)


APPROVE = RecordRiskDecision(RiskDecision.APPROVE)
REJECT = RecordRiskDecision(RiskDecision.REJECT)


# -- placing ---------------------------------------------------------------------------------------


def test_placing_an_order_records_order_placed_with_numbered_lines_and_the_total() -> None:
    order, events = execute(None, place())
    assert order is not None
    assert order.status is Status.PENDING_PAYMENT
    assert order.risk_decision is RiskDecision.PENDING
    assert order.version == 1
    assert order.total == TOTAL
    assert (order.placed_at, order.idempotency_key) == (NOW, "key-1")
    assert events == [
        OrderPlaced(  # the address the command named is not taken into the event
            "o-1", "b-1", "", "web",
            (OrderLine(1, "sku-a", 2, cny(1500)), OrderLine(2, "sku-b", 1, cny(990))), TOTAL, "key-1", NOW,
        )
    ]


def test_an_order_cannot_be_placed_twice() -> None:
    with pytest.raises(NotAllowed):
        decide(placed().order, place())


def test_a_command_on_an_order_never_placed_is_refused() -> None:
    with pytest.raises(NotAllowed):
        decide(None, APPROVE)


def test_an_order_without_lines_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="at least one line"):
        placed(lines=[])


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_a_quantity_outside_one_to_a_hundred_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidOrder, match="quantity"):
        placed(lines=[("sku-a", quantity, cny(100))])


def test_quantities_of_one_and_a_hundred_are_accepted() -> None:
    order = placed(lines=[("sku-a", 1, cny(100)), ("sku-b", 100, cny(1))]).order
    assert order.total == cny(200)


def test_lines_in_different_currencies_are_refused() -> None:
    with pytest.raises(InvalidOrder, match="same currency"):
        placed(lines=[("sku-a", 1, cny(100)), ("sku-b", 1, Money(100, "USD"))])


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="negative"):
        placed(lines=[("sku-a", 1, cny(-1))])


def test_a_free_item_is_accepted() -> None:
    assert placed(lines=[("sku-a", 1, cny(0))]).order.total == cny(0)


def test_a_price_without_a_currency_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="currency"):
        placed(lines=[("sku-a", 1, Money(100, ""))])


def test_a_line_without_a_sku_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="SKU"):
        placed(lines=[("", 1, cny(100))])


def test_an_order_without_a_buyer_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="buyer"):
        decide(None, place(buyer_id=""))


def test_a_total_too_large_for_the_ledger_is_refused() -> None:
    with pytest.raises(InvalidOrder, match="too large"):
        placed(lines=[("sku-a", 100, cny(2**62))])


# -- payment and risk in either order --------------------------------------------------------------


def test_a_payment_before_the_risk_decision_waits_for_approval() -> None:
    order = placed()
    assert order.do(capture()) == [PaymentCaptured("o-1", "psp-sim", "txn-1", TOTAL)]
    assert order.status is Status.CAPTURED

    [paid] = order.do(APPROVE)
    assert order.status is Status.PAID
    assert isinstance(paid, OrderPaid)
    assert paid.txn_id == "txn-1" and paid.total == TOTAL and paid.buyer_id == "b-1"
    assert paid.buyer_email == ""  # events carry the buyer's id, never an address
    assert order.order.version == 3


def test_an_approval_before_the_payment_is_recorded_and_the_payment_releases_the_order() -> None:
    order = placed()
    assert order.do(APPROVE) == [OrderApproved("o-1", reviewed=False)]
    assert order.status is Status.PENDING_PAYMENT
    assert order.order.risk_decision is RiskDecision.APPROVE
    assert order.order.version == 2

    events = order.do(capture())
    assert [type(e) for e in events] == [PaymentCaptured, OrderPaid]
    assert order.status is Status.PAID
    assert order.order.version == 4


def _refused_and_refunded(events: list[Event], amount: Money, reason: RefundReason) -> None:
    captured, requested = events
    assert isinstance(captured, PaymentCaptured) and captured.refused is reason
    assert isinstance(requested, RefundRequested)
    assert (requested.amount, requested.reason, requested.txn_id, requested.lines) == (
        amount, reason, captured.txn_id, ()
    )


def test_a_payment_of_the_wrong_amount_is_recorded_and_refunded_and_the_order_does_not_change() -> None:
    order = placed()
    before = order.order
    wrong = cny(TOTAL.minor_units - 1)
    _refused_and_refunded(order.do(capture(wrong)), wrong, RefundReason.AMOUNT_MISMATCH)
    after = order.order
    assert after.phase._replace(refused_txn_ids=frozenset()) == before.phase
    assert after.version == before.version + 2 and len(after.refused_txn_ids) == 1
    # The same transaction told again (a resent notice, or a query answer under a provider alias) records
    # nothing: one refused payment, one refund.
    txn = next(iter(after.refused_txn_ids))
    assert order.do(CapturePayment(wrong, "wechatpay-sim", txn)) == []


def test_a_payment_in_another_currency_is_recorded_and_refunded() -> None:
    usd = Money(TOTAL.minor_units, "USD")
    _refused_and_refunded(decide(placed().order, capture(usd)), usd, RefundReason.AMOUNT_MISMATCH)


def test_a_payment_without_a_transaction_id_is_refused() -> None:
    with pytest.raises(NotAllowed, match="transaction id"):
        decide(placed().order, capture(txn_id=""))


def test_the_same_transaction_notified_twice_is_captured_once() -> None:
    order = placed()
    order.do(capture())
    assert order.do(capture()) == []
    assert order.order.version == 2


def test_a_second_transaction_for_a_paid_order_is_recorded_and_refunded() -> None:
    order = placed()
    order.do(capture())
    _refused_and_refunded(order.do(capture(txn_id="txn-2")), TOTAL, RefundReason.DUPLICATE_PAYMENT)
    assert order.order.captured_txn_id == "txn-1"


def test_a_payment_for_a_cancelled_order_is_recorded_and_refunded() -> None:
    order = placed()
    order.do(REJECT)
    _refused_and_refunded(order.do(capture()), TOTAL, RefundReason.ORDER_NOT_PAYABLE)
    assert order.status is Status.CANCELLED


PAY_BY = NOW + timedelta(minutes=15)


def expiring() -> Tracked:
    order = Tracked(fold([
        decide(None, Place("o-1", "b-1", "b@example.com", "web", LINES, "key-1", NOW, PAY_BY))[0]
    ]))  # type: ignore[arg-type]
    return order


def test_an_unpaid_order_expires_at_its_pay_by_and_not_before() -> None:
    order = expiring()
    with pytest.raises(NotAllowed, match="not due"):
        order.do(Expire(PAY_BY - timedelta(seconds=1)))
    assert order.do(Expire(PAY_BY)) == [OrderExpired("o-1", PAY_BY)]
    assert order.status is Status.EXPIRED
    assert order.do(Expire(PAY_BY)) == []  # a second poller: nothing


def test_a_paid_order_does_not_expire() -> None:
    order = expiring()
    order.do(capture())
    assert order.do(Expire(PAY_BY)) == []


def test_an_order_without_a_deadline_never_expires() -> None:
    with pytest.raises(NotAllowed, match="does not expire"):
        placed().do(Expire(NOW + timedelta(days=365)))


def test_a_payment_after_expiry_completes_an_approved_order() -> None:
    order = expiring()
    order.do(APPROVE)
    order.do(Expire(PAY_BY))
    assert [type(e) for e in order.do(capture())] == [PaymentCaptured, OrderPaid]
    assert order.status is Status.PAID


def test_a_payment_after_expiry_waits_for_risk_then_completes() -> None:
    order = expiring()
    order.do(Expire(PAY_BY))
    order.do(capture())
    assert order.status is Status.CAPTURED
    assert [type(e) for e in order.do(APPROVE)] == [OrderPaid]


def test_a_late_risk_approval_leaves_an_expired_order_expired() -> None:
    order = expiring()
    order.do(Expire(PAY_BY))
    order.do(APPROVE)
    assert (order.status, order.order.risk_decision) == (Status.EXPIRED, RiskDecision.APPROVE)


def test_a_payment_after_expiry_of_an_order_under_review_goes_back_to_review() -> None:
    order = expiring()
    order.do(RecordRiskDecision(RiskDecision.REVIEW, ("velocity",)))
    order.do(Expire(PAY_BY))
    assert [type(e) for e in order.do(capture())] == [PaymentCaptured, OrderHeld]
    assert order.status is Status.UNDER_REVIEW
    assert [type(e) for e in order.do(Review(approve=True))] == [OrderPaid]


def test_a_stock_shortage_refunds_the_whole_payment_through_the_provider() -> None:
    order = placed()
    order.do(capture())
    order.do(APPROVE)
    refunded, requested = order.do(RecordStockShort())
    assert isinstance(refunded, OrderRefunded) and isinstance(requested, RefundRequested)
    assert (requested.provider, requested.txn_id, requested.amount) == ("psp-sim", "txn-1", TOTAL)
    assert [(ln.line_no, ln.quantity, ln.amount) for ln in requested.lines] == [
        (1, 2, cny(3000)), (2, 1, cny(990))
    ]
    assert requested.refund_id == f"rf-o-1-{order.order.version}"


def test_a_repeated_risk_decision_changes_nothing() -> None:
    order = placed()
    order.do(capture())
    order.do(APPROVE)
    version = order.order.version
    assert order.do(APPROVE) == []
    assert order.do(REJECT) == []
    assert order.status is Status.PAID and order.order.version == version


def test_a_pending_risk_decision_is_not_a_decision() -> None:
    with pytest.raises(ValueError):
        decide(placed().order, RecordRiskDecision(RiskDecision.PENDING))


# -- review ----------------------------------------------------------------------------------------


def test_a_review_decision_holds_the_order_with_its_reasons() -> None:
    order = placed()
    events = order.do(RecordRiskDecision(RiskDecision.REVIEW, ("velocity: 6 orders in 60s",)))
    assert events == [OrderHeld("o-1", ("velocity: 6 orders in 60s",))]
    assert order.status is Status.UNDER_REVIEW
    assert order.order.version == 2


def test_a_held_order_takes_its_payment_and_stays_held() -> None:
    order = placed()
    order.do(RecordRiskDecision(RiskDecision.REVIEW))
    assert order.do(capture()) == [PaymentCaptured("o-1", "psp-sim", "txn-1", TOTAL)]
    assert order.status is Status.UNDER_REVIEW


def test_approving_a_held_paid_order_releases_it() -> None:
    order = placed()
    order.do(capture())
    order.do(RecordRiskDecision(RiskDecision.REVIEW))
    assert [type(e) for e in order.do(Review(approve=True))] == [OrderPaid]
    assert order.status is Status.PAID
    assert order.order.risk_decision is RiskDecision.APPROVE


def test_approving_a_held_unpaid_order_sends_it_back_to_await_payment() -> None:
    order = placed()
    order.do(RecordRiskDecision(RiskDecision.REVIEW))
    assert order.do(Review(approve=True)) == [OrderApproved("o-1", reviewed=True)]
    assert order.status is Status.PENDING_PAYMENT
    assert order.order.risk_decision is RiskDecision.APPROVE
    order.do(capture())
    assert order.status is Status.PAID


def test_rejecting_a_held_paid_order_refunds_it_without_having_released_it() -> None:
    order = placed()
    order.do(capture())
    order.do(RecordRiskDecision(RiskDecision.REVIEW))
    events = order.do(Review(approve=False))
    assert events[0] == OrderRefunded("o-1", "web", TOTAL, RefundReason.REVIEW_REJECTED, False)
    assert [type(e) for e in events] == [OrderRefunded, RefundRequested]
    assert order.status is Status.REFUNDED
    assert order.order.risk_decision is RiskDecision.REJECT


def test_rejecting_a_held_unpaid_order_cancels_it() -> None:
    order = placed()
    order.do(RecordRiskDecision(RiskDecision.REVIEW))
    [cancelled] = order.do(Review(approve=False))
    assert isinstance(cancelled, OrderCancelled)
    assert order.status is Status.CANCELLED


def test_an_order_not_under_review_cannot_be_reviewed() -> None:
    with pytest.raises(NotAllowed, match="not under review"):
        decide(placed().order, Review(approve=True))


# -- rejection -------------------------------------------------------------------------------------


def test_a_rejected_unpaid_order_is_cancelled() -> None:
    order = placed()
    assert order.do(REJECT) == [OrderCancelled("o-1", "rejected by risk")]
    assert order.status is Status.CANCELLED
    assert order.order.risk_decision is RiskDecision.REJECT


def test_a_rejected_paid_order_is_refunded_without_having_been_released() -> None:
    order = placed()
    order.do(capture())
    refunded, requested = order.do(REJECT)
    assert refunded == OrderRefunded("o-1", "web", TOTAL, RefundReason.REVIEW_REJECTED, False)
    assert isinstance(requested, RefundRequested) and requested.amount == TOTAL
    assert order.status is Status.REFUNDED


# -- fulfilment ------------------------------------------------------------------------------------


def paid() -> Tracked:
    order = placed()
    order.do(capture())
    order.do(APPROVE)
    return order


def test_a_released_order_short_of_stock_is_refunded_as_released() -> None:
    order = paid()
    assert order.do(RecordStockShort())[0] == OrderRefunded("o-1", "web", TOTAL, RefundReason.STOCK_SHORT, True)
    assert order.status is Status.REFUNDED
    assert order.order.risk_decision is RiskDecision.APPROVE
    assert order.order.version == 5  # OrderRefunded, then its RefundRequested


def test_stock_short_twice_refunds_once() -> None:
    order = paid()
    order.do(RecordStockShort())
    assert order.do(RecordStockShort()) == []


def test_an_order_not_released_cannot_run_short_of_stock() -> None:
    with pytest.raises(NotAllowed):
        placed().do(RecordStockShort())


def test_a_delivered_order_is_fulfilled_once() -> None:
    order = paid()
    assert order.do(RecordDelivery()) == [OrderFulfilled("o-1")]
    assert order.status is Status.FULFILLED
    assert order.do(RecordDelivery()) == []
    assert order.order.version == 4


def test_an_order_not_released_cannot_be_delivered() -> None:
    order = placed()
    order.do(capture())
    with pytest.raises(NotAllowed):
        order.do(RecordDelivery())


def test_a_refunded_order_cannot_be_delivered() -> None:
    order = paid()
    order.do(RecordStockShort())
    with pytest.raises(NotAllowed):
        order.do(RecordDelivery())


def test_every_event_raises_the_version_by_one_and_the_state_is_the_fold_of_the_events() -> None:
    recorded = decide(None, Place("o", "b", "", "web", [("s", 1, cny(5))], "k", NOW))
    for command in (CapturePayment(cny(5), "psp-sim", "t"), APPROVE, RecordDelivery()):
        recorded += decide(fold(recorded), command)
    order = fold(recorded)
    assert order is not None
    assert len(recorded) == order.version == 4
    assert order.status is Status.FULFILLED


def test_evolve_refuses_events_of_an_order_never_placed_and_a_second_placing() -> None:
    with pytest.raises(ValueError):
        evolve(None, OrderFulfilled("o-1"))
    [placed_event] = decide(None, place())
    with pytest.raises(ValueError):
        evolve(placed().order, placed_event)
