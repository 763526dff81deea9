"""The batch handler against Postgres, called as the inbox consumer calls it: inside its transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from google.protobuf.message import Message
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.bootstrap import consumer
from quanyi_orders.config import Settings
from quanyi_orders.domain.errors import NotAllowed
from quanyi_orders.domain.money import Money
from quanyi_orders.entrypoints.consumers import order_facts_handler
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import Envelope, NewEvent, new_event_id, open_envelope, seal
from quanyi_platform.eventstore import EventStore

RELEASED = ["OrderPlaced", "PaymentCaptured", "OrderPaid"]

UnitOfWorkFactory = Callable[[], PgOrdersUnitOfWork]


def received(payload: Message, order_id: str) -> ReceivedEvent:
    env = Envelope(event_id=new_event_id(), type=payload.DESCRIPTOR.full_name, correlation_id=order_id)
    return ReceivedEvent(env, payload, "quanyi.test.v1", 0, 0)


async def handle(pool: AsyncConnectionPool, store: EventStore, *events: ReceivedEvent) -> None:
    """One batch, in one transaction, as the consumer hands it over."""
    handler = order_facts_handler(lambda conn: PgOrdersUnitOfWork(store, conn=conn))
    async with pool.connection() as conn, conn.transaction():
        await handler.apply(conn, list(events))


async def placed_order(unit_of_work: UnitOfWorkFactory, key: str = "k") -> str:
    cmd = app.PlaceOrder("buyer-1", "b@example.com", "web", [("sku-a", 1, Money(1000, "CNY"))], key)
    placed = await app.place_order(unit_of_work(), cmd)
    return str(placed.order.order_id)


async def pay(unit_of_work: UnitOfWorkFactory, order_id: str, key: str = "k") -> None:
    notice = app.PaymentNotice("psp-sim", f"nonce-{key}", f"notice-{key}", order_id, f"txn-{key}",
                               Money(1000, "CNY"))
    await app.capture_notified_payment(unit_of_work(), notice)


async def paid_order(pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory,
                     key: str = "k") -> str:
    order_id = await placed_order(unit_of_work, key)
    await pay(unit_of_work, order_id, key)
    await handle(pool, store, received(risk_decided(order_id, risk_events.DECISION_APPROVE), order_id))
    return order_id


def risk_decided(order_id: str, decision: Any) -> risk_events.RiskDecided:
    return risk_events.RiskDecided(order_id=order_id, buyer_id="buyer-1", decision=decision)


async def last_envelope(pool: AsyncConnectionPool, order_id: str, skip: int = 0) -> tuple[Envelope, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT envelope FROM events WHERE aggregate_id = %s ORDER BY seq DESC LIMIT 1 OFFSET %s",
            (order_id, skip),
        )
        row: Any = await cur.fetchone()
    env, payload = open_envelope(bytes(row["envelope"]))
    return env, payload


async def status_of(unit_of_work: UnitOfWorkFactory, order_id: str) -> str:
    return (await app.get_order(unit_of_work(), order_id)).status.value


async def test_a_risk_approval_after_payment_releases_the_order_caused_by_the_decision(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    order_id = await placed_order(unit_of_work)
    await pay(unit_of_work, order_id)
    decided = received(risk_decided(order_id, risk_events.DECISION_APPROVE), order_id)
    await handle(pool, store, decided)

    assert await probe.event_types(order_id) == RELEASED
    env, paid = await last_envelope(pool, order_id)
    assert env.causation_id == decided.event_id
    assert env.correlation_id == order_id
    assert isinstance(paid, orders_events.OrderPaid)
    assert paid.provider_txn_id == "txn-k"
    assert (paid.total.minor_units, paid.buyer_id, paid.buyer_email) == (1000, "buyer-1", "")  # no address


async def test_a_risk_rejection_before_payment_cancels_the_order(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    order_id = await placed_order(unit_of_work)
    await handle(pool, store, received(risk_decided(order_id, risk_events.DECISION_REJECT), order_id))
    assert await probe.event_types(order_id) == ["OrderPlaced", "OrderCancelled"]
    assert await status_of(unit_of_work, order_id) == "CANCELLED"


async def test_stock_short_refunds_a_released_order_as_released(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    order_id = await paid_order(pool, store, unit_of_work)
    await handle(pool, store, received(inventory_events.StockShort(order_id=order_id), order_id))

    assert await probe.event_types(order_id) == [*RELEASED, "OrderRefunded", "RefundRequested"]
    _, requested = await last_envelope(pool, order_id)
    assert (requested.amount.minor_units, requested.reason) == (1000, orders_events.REFUND_REASON_STOCK_SHORT)
    _, refunded = await last_envelope(pool, order_id, skip=1)
    assert refunded.reason == orders_events.REFUND_REASON_STOCK_SHORT
    assert refunded.was_released is True
    assert (refunded.amount.minor_units, refunded.amount.currency, refunded.channel) == (1000, "CNY", "web")
    assert await status_of(unit_of_work, order_id) == "REFUNDED"


async def test_a_delivered_order_is_fulfilled_once(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    order_id = await paid_order(pool, store, unit_of_work)
    delivered = fulfillment_events.KeyDelivered(order_id=order_id, buyer_id="buyer-1")
    await handle(pool, store, received(delivered, order_id))
    await handle(pool, store, received(delivered, order_id))  # a second KeyDelivered, another event id
    assert await probe.event_types(order_id) == [*RELEASED, "OrderFulfilled"]
    assert await status_of(unit_of_work, order_id) == "FULFILLED"


async def test_one_batch_decides_several_events_of_one_order_in_order_and_of_several_orders(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    first = await placed_order(unit_of_work, "a")
    await pay(unit_of_work, first, "a")
    second = await placed_order(unit_of_work, "b")
    third = await paid_order(pool, store, unit_of_work, "c")

    await handle(
        pool, store,
        received(risk_decided(first, risk_events.DECISION_APPROVE), first),
        received(risk_decided(second, risk_events.DECISION_REVIEW), second),
        received(fulfillment_events.KeyDelivered(order_id=first), first),  # released earlier in the batch
        received(risk_decided(first, risk_events.DECISION_REJECT), first),  # too late: changes nothing
        received(inventory_events.StockShort(order_id=third), third),
    )

    assert await probe.event_types(first) == ["OrderPlaced", "PaymentCaptured", "OrderPaid", "OrderFulfilled"]
    assert await probe.event_types(second) == ["OrderPlaced", "OrderHeld"]
    assert await probe.event_types(third) == [*RELEASED, "OrderRefunded", "RefundRequested"]
    got = {o: await app.get_order(unit_of_work(), o) for o in (first, second, third)}
    assert [(o.status.value, o.risk_decision.value, o.version) for o in got.values()] == [
        ("FULFILLED", "APPROVE", 4), ("UNDER_REVIEW", "REVIEW", 2), ("REFUNDED", "APPROVE", 5),
    ]


async def test_an_event_about_an_unknown_order_raises(pool: AsyncConnectionPool, store: EventStore) -> None:
    with pytest.raises(OrderNotFound):
        await handle(pool, store, received(risk_decided("no-such-order", risk_events.DECISION_APPROVE), "x"))


async def test_delivery_of_an_unpaid_order_is_refused(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory
) -> None:
    order_id = await placed_order(unit_of_work)
    with pytest.raises(NotAllowed):
        await handle(pool, store, received(fulfillment_events.KeyDelivered(order_id=order_id), order_id))


def record(payload: Message, order_id: str, offset: int) -> ConsumerRecord[bytes, bytes]:
    env = seal(NewEvent("Test", order_id, 1, payload, correlation_id=order_id), "test")
    value = env.SerializeToString()
    headers = [("type", env.type.encode())]
    return ConsumerRecord("quanyi.risk.v1", 0, offset, 0, 0, None, value, None, 0, len(value), headers)


async def test_through_the_inbox_a_poison_event_mid_batch_is_dead_lettered_and_the_rest_apply_once(
    pool: AsyncConnectionPool, store: EventStore, unit_of_work: UnitOfWorkFactory, probe: Any
) -> None:
    held = await placed_order(unit_of_work, "a")
    cancelled = await placed_order(unit_of_work, "b")
    inbox = consumer(pool, Settings(), store)
    review = record(risk_decided(held, risk_events.DECISION_REVIEW), held, 0)
    ghost = record(risk_decided("no-such-order", risk_events.DECISION_APPROVE), "no-such-order", 1)
    reject = record(risk_decided(cancelled, risk_events.DECISION_REJECT), cancelled, 2)
    ignored = record(orders_events.OrderFulfilled(order_id=held), held, 3)  # a type orders does not handle

    assert await inbox.apply([review, ghost, reject, ignored, review]) == 2
    assert await inbox.apply([review, ghost, reject]) == 0  # the whole batch again: nothing twice
    assert await probe.event_types(held) == ["OrderPlaced", "OrderHeld"]
    assert await probe.event_types(cancelled) == ["OrderPlaced", "OrderCancelled"]
    assert await probe.count("dead_letters") == 1
