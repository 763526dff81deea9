"""RefundRequestStore, one suite against Postgres and the in-memory fake; and the use case on the fakes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quanyi_gateway.adapters.memory import InMemoryOrders, InMemoryRefundRequestStore
from quanyi_gateway.adapters.refund_requests import PostgresRefundRequestStore
from quanyi_gateway.application.errors import NotRefundable, OrderNotFound
from quanyi_gateway.application.model import Money, OrderItem, OrderRefund, RefundRequest, User
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.refund_requests import RefundRequests
from quanyi_gateway.main import NAME
from quanyi_platform import db

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    await db.migrate(database_url, NAME, ["quanyi_gateway.migrations"])
    pool = await db.create_pool(database_url, NAME, 1, 4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryRefundRequestStore()
    return PostgresRefundRequestStore(request.getfixturevalue("pool"))


def _asked(order_id: str, buyer_id: str = "b1", at: datetime = T0) -> RefundRequest:
    return RefundRequest(str(uuid.uuid4()), order_id, buyer_id, "not_working", at)


async def test_an_order_keeps_its_first_request_even_against_a_concurrent_one(store: Any) -> None:
    first, second = _asked("o1"), _asked("o1", at=T0 + timedelta(seconds=1))
    kept = await asyncio.gather(store.add(first), store.add(second))
    assert kept[0] == kept[1] and kept[0] in (first, second)
    assert await store.of_order("o1") == kept[0]
    assert await store.of_order("o2") is None


async def test_requests_are_listed_per_buyer_and_for_everyone_newest_first(store: Any) -> None:
    a1, b1, a2 = _asked("o1", "a", T0), _asked("o2", "b", T0 + timedelta(1)), _asked("o3", "a", T0 + timedelta(2))
    for r in (a1, b1, a2):
        await store.add(r)
    assert await store.of_buyer("a") == [a2, a1]
    assert await store.latest(2) == [a2, b1]


async def test_a_buyer_asks_once_for_their_own_paid_order_only() -> None:
    orders = InMemoryOrders()
    requests = RefundRequests(OrderQueries(orders), InMemoryRefundRequestStore(), clock=lambda: T0)
    alice = User(uuid.uuid4(), "alice@example.com", "buyer")
    bob = User(uuid.uuid4(), "bob@example.com", "buyer")
    placed = await orders.place(alice, "web", "k1", [OrderItem("sku", 1, Money(100, "CNY"))])
    order_id = placed.order.order_id

    with pytest.raises(NotRefundable):  # not paid: nothing to give back
        await requests.request(alice, order_id, "changed_mind")
    orders.orders[order_id] = replace(placed.order, status="FULFILLED")
    with pytest.raises(OrderNotFound):  # another buyer's order is a missing one
        await requests.request(bob, order_id, "changed_mind")
    asked, new = await requests.request(alice, order_id, "not_working")
    again, new_again = await requests.request(alice, order_id, "other")
    assert new and not new_again and again == asked
    assert (asked.reason, asked.buyer_id, asked.requested_at) == ("not_working", str(alice.user_id), T0)
    assert await requests.of_buyer(alice) == {order_id: asked}
    assert await requests.of_buyer(bob) == {}


async def test_a_request_follows_the_refunds_orders_reports_declined_or_refunded() -> None:
    orders = InMemoryOrders()
    requests = RefundRequests(OrderQueries(orders), InMemoryRefundRequestStore(), clock=lambda: T0)
    alice = User(uuid.uuid4(), "alice@example.com", "buyer")
    placed = await orders.place(alice, "web", "k1", [OrderItem("sku", 1, Money(100, "CNY"))])
    order_id = placed.order.order_id
    orders.orders[order_id] = replace(placed.order, status="FULFILLED")
    asked, _ = await requests.request(alice, order_id, "not_working")
    assert asked.state == "requested"  # no operator acted yet

    def refunds(*states: str) -> None:
        order = orders.orders[order_id]
        found = tuple(OrderRefund(f"r{i}", s, Money(100, "CNY")) for i, s in enumerate(states))
        orders.orders[order_id] = replace(order, refunds=found)

    seen = []
    for states in [("AWAITING_KEYS",), ("UNDER_REVIEW",), ("DECLINED",), ("DECLINED", "REQUESTED"),
                   ("DECLINED", "REFUNDED")]:
        refunds(*states)
        mine = await requests.of_buyer(alice)
        order = orders.orders[order_id]
        shown = await requests.of_order(alice, order)
        assert shown is not None and mine[order_id] == shown
        assert (await requests.request(alice, order_id, "other"))[0] == shown  # asking again: the same
        seen.append(shown.state)
    assert seen == ["processing", "processing", "declined", "processing", "refunded"]
    # Given the buyer's orders as read already (the user centre), the same; another buyer sees nothing.
    assert (await requests.of_buyer(alice, list(orders.orders.values())))[order_id].state == "refunded"
    bob = User(uuid.uuid4(), "bob@example.com", "buyer")
    assert await requests.of_order(bob, orders.orders[order_id]) is None
