"""The event handlers against Postgres, called as the inbox consumer calls them: inside its transaction."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord
from google.protobuf.message import Message
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_orders.application import orders as app
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.domain.errors import NotAllowed
from quanyi_orders.domain.money import Money
from quanyi_orders.entrypoints.consumers import CONSUMER, TOPICS, handlers
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import Envelope, NewEvent, new_event_id, open_envelope, seal
from quanyi_platform.eventstore import EventStore

RELEASED = ["OrderPlaced", "PaymentCaptured", "OrderPaid"]


def received(payload: Message, order_id: str) -> ReceivedEvent:
    env = Envelope(event_id=new_event_id(), type=payload.DESCRIPTOR.full_name, correlation_id=order_id)
    return ReceivedEvent(env, payload, "quanyi.test.v1", 0, 0)


async def handle(pool: AsyncConnectionPool, store: EventStore, ev: ReceivedEvent) -> None:
    async with pool.connection() as conn, conn.transaction():
        await handlers(store)[ev.envelope.type](conn, ev)


async def placed_order(pool: AsyncConnectionPool, store: EventStore, key: str = "k") -> str:
    cmd = app.PlaceOrder("buyer-1", "b@example.com", "web", [("sku-a", 1, Money(1000, "CNY"))], key)
    async with pool.connection() as conn, conn.transaction():
        placed = await app.place_order(conn, store, cmd)
    return str(placed.order.order_id)


async def paid_order(pool: AsyncConnectionPool, store: EventStore, key: str = "k") -> str:
    order_id = await placed_order(pool, store, key)
    async with pool.connection() as conn, conn.transaction():
        await app.capture_notified_payment(conn, store, provider="psp-sim", nonce=f"nonce-{key}",
                                           order_id=order_id, txn_id=f"txn-{key}", amount=Money(1000, "CNY"))
    await handle(pool, store, received(risk_decided(order_id, risk_events.DECISION_APPROVE), order_id))
    return order_id


def risk_decided(order_id: str, decision: Any) -> risk_events.RiskDecided:
    return risk_events.RiskDecided(order_id=order_id, buyer_id="buyer-1", decision=decision)


async def last_envelope(pool: AsyncConnectionPool, order_id: str) -> tuple[Envelope, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT envelope FROM events WHERE aggregate_id = %s ORDER BY seq DESC LIMIT 1", (order_id,)
        )
        row: Any = await cur.fetchone()
    env, payload = open_envelope(bytes(row["envelope"]))
    return env, payload


async def test_a_risk_approval_after_payment_releases_the_order_caused_by_the_decision(
    pool: AsyncConnectionPool, store: EventStore, probe: Any
) -> None:
    order_id = await placed_order(pool, store)
    async with pool.connection() as conn, conn.transaction():
        await app.capture_notified_payment(conn, store, provider="psp-sim", nonce="n", order_id=order_id,
                                           txn_id="txn-1", amount=Money(1000, "CNY"))
    decided = received(risk_decided(order_id, risk_events.DECISION_APPROVE), order_id)
    await handle(pool, store, decided)

    assert await probe.event_types(order_id) == RELEASED
    env, paid = await last_envelope(pool, order_id)
    assert env.causation_id == decided.event_id
    assert env.correlation_id == order_id
    assert isinstance(paid, orders_events.OrderPaid)
    assert paid.provider_txn_id == "txn-1"
    assert (paid.total.minor_units, paid.buyer_email) == (1000, "b@example.com")


async def test_a_risk_rejection_before_payment_cancels_the_order(
    pool: AsyncConnectionPool, store: EventStore, probe: Any
) -> None:
    order_id = await placed_order(pool, store)
    await handle(pool, store, received(risk_decided(order_id, risk_events.DECISION_REJECT), order_id))
    assert await probe.event_types(order_id) == ["OrderPlaced", "OrderCancelled"]


async def test_stock_short_refunds_a_released_order_as_released(
    pool: AsyncConnectionPool, store: EventStore, probe: Any
) -> None:
    order_id = await paid_order(pool, store)
    await handle(pool, store, received(inventory_events.StockShort(order_id=order_id), order_id))

    assert await probe.event_types(order_id) == [*RELEASED, "OrderRefunded"]
    _, refunded = await last_envelope(pool, order_id)
    assert refunded.reason == orders_events.REFUND_REASON_STOCK_SHORT
    assert refunded.was_released is True
    assert (refunded.amount.minor_units, refunded.amount.currency, refunded.channel) == (1000, "CNY", "web")


async def test_a_delivered_order_is_fulfilled_once(
    pool: AsyncConnectionPool, store: EventStore, probe: Any
) -> None:
    order_id = await paid_order(pool, store)
    delivered = fulfillment_events.KeyDelivered(order_id=order_id, buyer_id="buyer-1")
    await handle(pool, store, received(delivered, order_id))
    await handle(pool, store, received(delivered, order_id))  # a second KeyDelivered, another event id
    assert await probe.event_types(order_id) == [*RELEASED, "OrderFulfilled"]
    async with pool.connection() as conn:
        assert (await app.get_order(conn, order_id)).status.value == "FULFILLED"


async def test_an_event_about_an_unknown_order_raises(pool: AsyncConnectionPool, store: EventStore) -> None:
    with pytest.raises(OrderNotFound):
        await handle(pool, store, received(risk_decided("no-such-order", risk_events.DECISION_APPROVE), "x"))


async def test_delivery_of_an_unpaid_order_is_refused(pool: AsyncConnectionPool, store: EventStore) -> None:
    order_id = await placed_order(pool, store)
    with pytest.raises(NotAllowed):
        await handle(pool, store, received(fulfillment_events.KeyDelivered(order_id=order_id), order_id))


def record(payload: Message, order_id: str, offset: int) -> ConsumerRecord[bytes, bytes]:
    env = seal(NewEvent("Test", order_id, 1, payload, correlation_id=order_id), "test")
    value = env.SerializeToString()
    return ConsumerRecord("quanyi.risk.v1", 0, offset, 0, 0, None, value, None, 0, len(value), [])


async def test_through_the_inbox_a_redelivered_decision_applies_once_and_an_unknown_order_is_dead_lettered(
    pool: AsyncConnectionPool, store: EventStore, probe: Any
) -> None:
    order_id = await placed_order(pool, store)
    consumer = InboxConsumer(CONSUMER, TOPICS, handlers(store), pool, PlatformSettings())
    review = record(risk_decided(order_id, risk_events.DECISION_REVIEW), order_id, 0)
    ghost = record(risk_decided("no-such-order", risk_events.DECISION_APPROVE), "no-such-order", 1)

    assert await consumer.apply([review, ghost, review]) == 1
    assert await consumer.apply([review]) == 0
    assert await probe.event_types(order_id) == ["OrderPlaced", "OrderHeld"]
    assert await probe.count("dead_letters") == 1
