"""The saga's use cases on the in-memory fakes: expiry from the due timeouts, and refunds recorded once
however often the provider answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import orders, saga
from quanyi_orders.domain.events import RefundSent, RefundSucceeded
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Status
from quanyi_orders.domain.refund import RefundStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=15)


def after_now(**delta: float) -> datetime:
    """An instant after the wall clock: a refund is due from when its payment was recorded, which the
    fakes stamp with the wall clock, not with NOW (these tests failed once the calendar passed NOW + 1 day)."""
    return datetime.now(UTC) + timedelta(**delta)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


class World:
    def __init__(self) -> None:
        self.log = InMemoryOrdersEventLog("orders")

    def uow(self) -> InMemoryOrdersUnitOfWork:
        return InMemoryOrdersUnitOfWork(self.log)

    async def place(self, key: str) -> str:
        fields = {"buyer_id": "b-1", "channel": "web", "lines": [("sku-a", 1, cny(1990))], "idempotency_key": key}
        if "buyer_email" in orders.PlaceOrder.__dataclass_fields__:
            fields["buyer_email"] = ""
        placed = await orders.place_order(self.uow(), orders.PlaceOrder(**fields), now=NOW,  # type: ignore[arg-type]
                                          pay_within=TTL)
        return placed.order.order_id

    async def pay(self, order_id: str, txn: str, amount: int = 1990) -> orders.Captured:
        notice = orders.PaymentNotice("wechatpay-sim", f"n-{txn}", "id", order_id, txn, cny(amount))
        return await orders.capture_notified_payment(self.uow(), notice)

    async def status(self, order_id: str) -> Status:
        return (await orders.get_order(self.uow(), order_id)).status


async def test_orders_are_due_to_expire_at_their_pay_by_and_expire_once_unless_paid() -> None:
    w = World()
    unpaid, paid = await w.place("k1"), await w.place("k2")
    await w.pay(paid, "t-2")
    assert await saga.due_expiries(w.uow, NOW + TTL - timedelta(seconds=1), 10) == []
    assert await saga.due_expiries(w.uow, NOW + TTL, 10) == [unpaid]  # a paid order is no longer due
    assert await saga.expire_orders(w.uow, [unpaid, paid], NOW + TTL) == 1
    assert (await w.status(unpaid), await w.status(paid)) == (Status.EXPIRED, Status.CAPTURED)
    assert await saga.due_expiries(w.uow, NOW + TTL, 10) == []
    assert await saga.expire_orders(w.uow, [unpaid], NOW + TTL) == 0  # a second poller: nothing


async def test_a_refused_payment_is_refunded_once_however_often_the_provider_confirms() -> None:
    w = World()
    order_id = await w.place("k1")
    await w.pay(order_id, "t-wrong", amount=1)
    (refund,) = await saga.due_refunds(w.uow, after_now(days=1), 10)
    assert (refund.amount, refund.txn_id, refund.status) == (cny(1), "t-wrong", RefundStatus.REQUESTED)
    assert await w.pay(order_id, "t-wrong", amount=1) == orders.Captured(
        (await orders.get_order(w.uow(), order_id)), duplicate=True
    )

    later = after_now(days=1)
    sent = await saga.record_refund_outcomes(w.uow, [saga.RefundOutcome(refund.refund_id, "PROCESSING")], later)
    assert [type(e) for e in sent] == [RefundSent]
    assert await saga.due_refunds(w.uow, later - timedelta(seconds=1), 10) == []  # moved to `later`
    confirmed = saga.RefundOutcome(refund.refund_id, "SUCCESS", True, "5030-1", cny(1))
    first = await saga.record_refund_outcomes(w.uow, [confirmed, confirmed], later)
    assert [type(e) for e in first] == [RefundSucceeded]
    assert await saga.record_refund_outcomes(w.uow, [confirmed], later) == []
    assert await saga.due_refunds(w.uow, later + timedelta(days=1), 10) == []
    assert await w.status(order_id) == Status.PENDING_PAYMENT


async def test_a_confirmation_of_another_amount_leaves_the_refund_open() -> None:
    w = World()
    order_id = await w.place("k1")
    await w.pay(order_id, "t-wrong", amount=5)
    (refund,) = await saga.due_refunds(w.uow, after_now(days=1), 10)
    odd = saga.RefundOutcome(refund.refund_id, "SUCCESS", True, "5030-1", cny(4))
    (event,) = await saga.record_refund_outcomes(w.uow, [odd], NOW)
    assert isinstance(event, RefundSent) and event.outcome == "AMOUNT_DIFFERS"


class NoDeliveries:
    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        return []


async def released(w: World, key: str) -> str:
    from quanyi_orders.application.reactions import OrderFact, apply_order_facts
    from quanyi_orders.domain.order import RecordRiskDecision, RiskDecision

    order_id = await w.place(key)
    await w.pay(order_id, f"t-{key}")
    await apply_order_facts(w.uow(), [OrderFact(order_id, RecordRiskDecision(RiskDecision.APPROVE), "e-1")])
    assert await w.status(order_id) == Status.PAID
    return order_id


async def test_a_released_order_not_delivered_by_its_deadline_is_queued_once_and_an_operator_resolves_it() -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.projections.orders import DELIVERY_DEADLINE

    w = World()
    order_id = await released(w, "k1")
    late = datetime.now(UTC) + DELIVERY_DEADLINE + timedelta(seconds=1)
    assert await queue.queue_overdue(w.uow, datetime.now(UTC), 10) == 0
    assert await queue.queue_overdue(w.uow, late, 10) == 1
    assert await queue.queue_overdue(w.uow, late, 10) == 0  # no longer due
    (entry,) = (await queue.list_queue(w.uow, False, 0))[0]
    assert (entry.order_id, entry.source, entry.status) == (order_id, "deadline", "OPEN")

    entry, refund_id = await queue.act_on_entry(w.uow, NoDeliveries(), order_id, "resolve", "ops", "sent by hand")
    assert (entry.status, entry.resolution, entry.actor, refund_id) == ("RESOLVED", "resolve", "ops", "")
    assert (await queue.list_queue(w.uow, False, 0))[0] == []
    import pytest
    from quanyi_orders.domain.errors import NotAllowed

    with pytest.raises(NotAllowed, match="resolved already"):
        await queue.act_on_entry(w.uow, NoDeliveries(), order_id, "resolve", "ops", "again")


async def test_refunding_a_queued_order_refunds_its_units_and_resolves_the_entry() -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.application.reactions import OrderFact, apply_order_facts
    from quanyi_orders.domain.order import Queue, RecordRefundKeys

    w = World()
    order_id = await released(w, "k1")
    await apply_order_facts(w.uow(), [OrderFact(order_id, Queue("delivery given up", "delivery"), "e-2")])
    entry, refund_id = await queue.act_on_entry(w.uow, NoDeliveries(), order_id, "refund", "ops", "no stock")
    assert (entry.status, entry.resolution) == ("RESOLVED", "refund") and refund_id
    # Its key must be taken back first: the refund waits for inventory's answer, and so does the order.
    assert await w.status(order_id) == Status.PAID
    assert await saga.due_refunds(w.uow, datetime.now(UTC) + timedelta(days=1), 10) == []
    await apply_order_facts(w.uow(), [OrderFact(order_id, RecordRefundKeys(refund_id), "e-3")])
    assert await w.status(order_id) == Status.REFUNDED
    (refund,) = await saga.due_refunds(w.uow, datetime.now(UTC) + timedelta(days=1), 10)
    assert (refund.amount, [(ln.quantity, ln.released) for ln in refund.lines]) == (cny(1990), [(1, 1)])


async def test_a_refund_whose_keys_inventory_refused_is_never_sent() -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.application.reactions import OrderFact, apply_order_facts
    from quanyi_orders.domain.order import Queue, RecordRefundKeys

    w = World()
    order_id = await released(w, "k1")
    await apply_order_facts(w.uow(), [OrderFact(order_id, Queue("delivery given up", "delivery"), "e-2")])
    _, refund_id = await queue.act_on_entry(w.uow, NoDeliveries(), order_id, "refund", "ops", "no stock")
    answer = RecordRefundKeys(refund_id, refused=True, reason="a key was redeemed")
    await apply_order_facts(w.uow(), [OrderFact(order_id, answer, "e-3")])
    assert await saga.due_refunds(w.uow, datetime.now(UTC) + timedelta(days=1), 10) == []


async def test_a_payment_risk_never_decides_on_is_queued_after_the_deadline_and_a_held_one_is_not() -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.application.reactions import OrderFact, apply_order_facts
    from quanyi_orders.domain.order import RecordRiskDecision, RiskDecision
    from quanyi_orders.projections.orders import DELIVERY_DEADLINE

    w = World()
    waiting, held = await w.place("k1"), await w.place("k2")
    await w.pay(waiting, "t-1")
    await w.pay(held, "t-2")
    await apply_order_facts(w.uow(), [OrderFact(held, RecordRiskDecision(RiskDecision.REVIEW), "e-1")])
    late = datetime.now(UTC) + DELIVERY_DEADLINE + timedelta(seconds=1)
    assert await queue.queue_overdue(w.uow, late, 10) == 1
    assert [(e.order_id, e.source) for e in (await queue.list_queue(w.uow, False, 0))[0]] == [(waiting, "deadline")]
