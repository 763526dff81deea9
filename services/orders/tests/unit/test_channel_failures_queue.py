"""A channel that gives up after the order was fulfilled (the keys are in the user centre; the e-mail, an
SMS, a webhook or the partner's activation failed later) lands in the exception queue, stays open although
the order is fulfilled, and an operator re-drives it, switches it to another channel, or refunds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application import queue
from quanyi_orders.application.ports import ChannelOutcome, Deliveries
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Queue, RecordDelivery, RecordRiskDecision, RiskDecision

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PRICE = Money(1990, "CNY")


class Channels(Deliveries):
    """Fulfillment as far as orders sees it: one delivered key, and channels that deliver or not."""

    def __init__(self, works: bool) -> None:
        self.works = works
        self.calls: list[tuple[str, str, str, str]] = []

    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        return [("sku-a", False)]

    async def deliver(self, order_id: str, channel: str, target: str, requested_by: str) -> ChannelOutcome:
        self.calls.append((order_id, channel, target, requested_by))
        return ChannelOutcome(True, 1) if self.works else ChannelOutcome(False, 3, "partner down")


async def fulfilled_then_failed(log: InMemoryOrdersEventLog, channel: str = "sms") -> str:
    def uow() -> InMemoryOrdersUnitOfWork:
        return InMemoryOrdersUnitOfWork(log)

    cmd = app.PlaceOrder("buyer-1", "", "web", [("sku-a", 1, PRICE)], f"k-{channel}")
    order = (await app.place_order(uow(), cmd, now=NOW, pay_within=timedelta(minutes=15))).order
    await app.capture_notified_payment(uow(), app.PaymentNotice("psp", f"n-{channel}", "x", order.order_id,
                                                                f"t-{channel}", PRICE))
    await apply_order_facts(uow(), [
        OrderFact(order.order_id, RecordRiskDecision(RiskDecision.APPROVE), "e-1"),
        OrderFact(order.order_id, RecordDelivery(), "e-2"),
        OrderFact(order.order_id, Queue(f"{channel} delivery given up after 3 attempts: 503", "delivery"), "e-3"),
    ])
    return order.order_id


async def open_entries(log: InMemoryOrdersEventLog) -> list[queue.QueueEntry]:
    return (await queue.list_queue(lambda: InMemoryOrdersUnitOfWork(log), False, 10))[0]


async def test_a_channel_given_up_after_fulfilment_is_queued_and_stays_open() -> None:
    log = InMemoryOrdersEventLog("orders")
    order_id = await fulfilled_then_failed(log)
    (entry,) = await open_entries(log)
    assert (entry.order_id, entry.source, entry.status) == (order_id, "channel", "OPEN")
    assert entry.reason.startswith("sms delivery given up")
    order = await app.get_order(InMemoryOrdersUnitOfWork(log), order_id)
    assert order.status.value == "FULFILLED"


async def test_a_redrive_that_delivers_resolves_the_entry_and_one_that_fails_leaves_it_open() -> None:
    log = InMemoryOrdersEventLog("orders")
    order_id = await fulfilled_then_failed(log, "activation")

    def uow() -> InMemoryOrdersUnitOfWork:
        return InMemoryOrdersUnitOfWork(log)

    down = Channels(works=False)
    with pytest.raises(NotAllowed, match="failed again after 3 attempts: partner down"):
        await queue.act_on_entry(uow, down, order_id, "redrive", "ops", "", "activation", "acct-1")
    assert [e.status for e in await open_entries(log)] == ["OPEN"]
    with pytest.raises(InvalidOrder, match="needs the channel"):
        await queue.act_on_entry(uow, down, order_id, "switch", "ops", "")

    up = Channels(works=True)
    entry, refund_id = await queue.act_on_entry(uow, up, order_id, "switch", "ops", "buyer asked", "sms",
                                                "+8613800138000")
    assert up.calls == [(order_id, "sms", "+8613800138000", "operator:ops")]
    assert (entry.status, entry.resolution, entry.actor, refund_id) == ("RESOLVED", "switch", "ops", "")
    assert await open_entries(log) == []
    with pytest.raises(NotAllowed, match="resolved already"):
        await queue.act_on_entry(uow, up, order_id, "redrive", "ops", "", "sms", "+8613800138000")


async def test_an_operator_refunds_a_fulfilled_order_whose_channel_gave_up() -> None:
    log = InMemoryOrdersEventLog("orders")
    order_id = await fulfilled_then_failed(log, "webhook")
    entry, refund_id = await queue.act_on_entry(
        lambda: InMemoryOrdersUnitOfWork(log), Channels(works=True), order_id, "refund", "ops", "no channel works"
    )
    assert refund_id and (entry.status, entry.resolution) == ("RESOLVED", "refund")
