"""A key inventory heard redeemed after a refund had taken it back (its RefundedKeyRedeemed) puts the order in
the exception queue with its own source: the entry names the key by id, its SKU, the refund and the
partner, stays open although the order is refunded, and closes only when an operator resolves it with a
note. It joins an entry still open rather than hiding it, and an entry that comes after it keeps its text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application import queue
from quanyi_orders.application.ports import ChannelOutcome, Deliveries
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.application.refunds import OperatorRefund, refund_order
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import OrderQueued
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    Queue,
    RecordDelivery,
    RecordRefundedKeyRedeemed,
    RecordRefundKeys,
    RecordRiskDecision,
    RiskDecision,
    Status,
)
from quanyi_orders.domain.queue import (
    REDEEMED_AFTER_REFUND_SOURCE,
    REFUND_SOURCE,
    OpenEntry,
    beside_open_entry,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PRICE = Money(1990, "CNY")
AT = datetime(2026, 12, 1, 11, 59, tzinfo=UTC)


class Fulfillment(Deliveries):
    """Fulfillment's record as orders asks it: the order's keys, none redeemed yet (it has not heard)."""

    def __init__(self, keys: int = 2) -> None:
        self.keys = keys

    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        return [("sku-a", False)] * self.keys

    async def deliver(self, order_id: str, channel: str, target: str, requested_by: str) -> ChannelOutcome:
        raise AssertionError("nothing is delivered again from this entry")


class Shop:
    def __init__(self) -> None:
        self.log = InMemoryOrdersEventLog("orders")

    def uow(self) -> InMemoryOrdersUnitOfWork:
        return InMemoryOrdersUnitOfWork(self.log)

    async def delivered(self, key: str, quantity: int = 2) -> str:
        cmd = app.PlaceOrder("buyer-1", "", "web", [("sku-a", quantity, PRICE)], f"k-{key}")
        order = (await app.place_order(self.uow(), cmd, now=NOW, pay_within=timedelta(minutes=15))).order
        await app.capture_notified_payment(self.uow(), app.PaymentNotice(
            "psp", f"n-{key}", "x", order.order_id, f"t-{key}", Money(PRICE.minor_units * quantity, "CNY")))
        await apply_order_facts(self.uow(), [
            OrderFact(order.order_id, RecordRiskDecision(RiskDecision.APPROVE), f"{key}-risk"),
            OrderFact(order.order_id, RecordDelivery(), f"{key}-delivered"),
        ])
        return order.order_id

    async def refunded(self, order_id: str, lines: tuple[tuple[int, int], ...] = ()) -> str:
        """An operator's refund, which inventory settles (voiding the delivered keys)."""
        made = await refund_order(self.uow, Fulfillment(), OperatorRefund(order_id, lines, "ops@shop"))
        await apply_order_facts(self.uow(), [
            OrderFact(order_id, RecordRefundKeys(made.refund_id), f"settled-{made.refund_id}")])
        return made.refund_id

    async def late(self, order_id: str, refund_id: str, key_id: str, event_id: str) -> None:
        redeemed = RecordRefundedKeyRedeemed(key_id, "sku-a", 1, 1, refund_id, "voided", "partner-x", AT)
        await apply_order_facts(self.uow(), [OrderFact(order_id, redeemed, event_id)])

    async def entries(self, include_resolved: bool = False) -> list[queue.QueueEntry]:
        return (await queue.list_queue(self.uow, include_resolved, 50))[0]


async def test_a_key_redeemed_after_its_refund_is_queued_open_although_the_order_is_refunded() -> None:
    shop = Shop()
    order_id = await shop.delivered("late")
    refund_id = await shop.refunded(order_id)
    assert (await app.get_order(shop.uow(), order_id)).status is Status.REFUNDED
    assert await shop.entries() == []

    await shop.late(order_id, refund_id, "key-1", "inv-1")

    [entry] = await shop.entries()
    assert (entry.order_id, entry.source, entry.status) == (order_id, REDEEMED_AFTER_REFUND_SOURCE, "OPEN")
    for fact in ("key-1", "SKU sku-a", refund_id, "partner-x", AT.isoformat()):
        assert fact in entry.reason


async def test_only_resolving_it_with_a_note_closes_it() -> None:
    shop = Shop()
    order_id = await shop.delivered("resolve", quantity=3)
    refund_id = await shop.refunded(order_id, ((1, 1),))  # a partial refund: the order stays fulfilled
    await shop.late(order_id, refund_id, "key-1", "inv-1")
    for action in ("refund", "redrive", "switch", "override", "decline"):
        with pytest.raises(NotAllowed, match="settled by hand"):
            await queue.act_on_entry(shop.uow, Fulfillment(3), order_id, action, "lead@shop", "x", "sms")
    with pytest.raises(InvalidOrder, match="needs a note"):
        await queue.act_on_entry(shop.uow, Fulfillment(3), order_id, "resolve", "lead@shop", "  ")
    assert [e.status for e in await shop.entries()] == ["OPEN"]

    entry, made = await queue.act_on_entry(
        shop.uow, Fulfillment(3), order_id, "resolve", "lead@shop", "charged back through the partner"
    )

    assert (entry.status, entry.resolution, entry.actor, made) == ("RESOLVED", "resolve", "lead@shop", "")
    assert await shop.entries() == []
    assert (await app.get_order(shop.uow(), order_id)).status is Status.FULFILLED  # nothing else moved


async def test_a_second_key_of_the_order_joins_the_open_entry_and_reopens_a_resolved_one() -> None:
    shop = Shop()
    order_id = await shop.delivered("two")
    refund_id = await shop.refunded(order_id)
    await shop.late(order_id, refund_id, "key-1", "inv-1")
    await shop.late(order_id, refund_id, "key-2", "inv-2")
    [entry] = await shop.entries()
    assert entry.reason.startswith("key key-2 ") and "key key-1 " in entry.reason

    await queue.act_on_entry(shop.uow, Fulfillment(), order_id, "resolve", "ops", "both written off")
    await shop.late(order_id, refund_id, "key-3", "inv-3")
    [entry] = await shop.entries()
    assert entry.status == "OPEN" and "key-3" in entry.reason and "key-1" not in entry.reason


async def test_it_keeps_a_refused_refund_waiting_for_its_override_and_a_channel_failure_keeps_its_text() -> None:
    shop = Shop()
    order_id = await shop.delivered("mixed", quantity=3)
    voiding = await shop.refunded(order_id, ((1, 1),))
    # A second refund inventory refuses (a redeemed key without the override): source "refund".
    second = await refund_order(shop.uow, Fulfillment(3), OperatorRefund(order_id, ((1, 1),), "ops@shop"))
    await apply_order_facts(shop.uow(), [OrderFact(
        order_id, RecordRefundKeys(second.refund_id, refused=True, reason="1 redeemed"), "refused-1")])
    await shop.late(order_id, voiding, "key-1", "inv-1")
    [entry] = await shop.entries()
    assert entry.source == REFUND_SOURCE and "key-1" in entry.reason and second.refund_id in entry.reason

    # A channel that gives up on the fulfilled order later keeps the late redemption in view.
    await queue.act_on_entry(shop.uow, Fulfillment(3), order_id, "decline", "lead@shop", "redeemed first")
    await shop.late(order_id, voiding, "key-2", "inv-2")
    await apply_order_facts(shop.uow(), [
        OrderFact(order_id, Queue("sms delivery given up after 3 attempts: 503", "delivery"), "failed-1")])
    [entry] = await shop.entries()
    assert entry.source == REDEEMED_AFTER_REFUND_SOURCE
    assert entry.reason.startswith("sms delivery given up") and "key-2" in entry.reason


def test_an_entry_joins_an_open_one_only_when_a_late_redemption_is_involved() -> None:
    late = OrderQueued("o", "key k", REDEEMED_AFTER_REFUND_SOURCE)
    failed = OrderQueued("o", "sms given up", "channel")
    assert beside_open_entry([late], None) == [late]
    assert beside_open_entry([failed], OpenEntry("overdue", "deadline")) == [failed]
    assert beside_open_entry([late], OpenEntry("overdue", "deadline")) == [
        OrderQueued("o", "key k; overdue", REDEEMED_AFTER_REFUND_SOURCE)]
    assert beside_open_entry([failed], OpenEntry("key k", REDEEMED_AFTER_REFUND_SOURCE)) == [
        OrderQueued("o", "sms given up; key k", REDEEMED_AFTER_REFUND_SOURCE)]
    assert beside_open_entry([late], OpenEntry("refused", REFUND_SOURCE)) == [
        OrderQueued("o", "key k; refused", REFUND_SOURCE)]
    long = OrderQueued("o", "x" * 400, REDEEMED_AFTER_REFUND_SOURCE)
    [joined] = beside_open_entry([long], OpenEntry("y" * 400, REDEEMED_AFTER_REFUND_SOURCE))
    assert isinstance(joined, OrderQueued) and len(joined.reason) == 500
