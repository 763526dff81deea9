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
from quanyi_platform.paging import InvalidPageToken

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
    assert await store.of_buyer("a", 10) == [a2, a1]
    assert await store.latest(2) == [a2, b1]
    assert await store.of_orders(["o3", "o9", "o1"]) in ([a2, a1], [a1, a2])


async def test_paging_requests_while_buyers_ask_lists_each_once_newest_first(store: Any) -> None:
    # Requests asked at the same instant: the request id breaks the tie, so no page boundary repeats one.
    asked = [_asked(f"o{n}", "a", T0 + timedelta(minutes=n // 2)) for n in range(7)]
    for r in asked:
        await store.add(r)
    expected = sorted(asked, key=lambda r: (r.requested_at, r.request_id), reverse=True)
    assert await store.of_buyer("a", 100) == expected
    for listing in (lambda n, before: store.of_buyer("a", n, before), store.latest):
        there = await listing(100, None)
        added: set[str] = set()
        seen: list[RefundRequest] = []
        before = None
        while True:
            page = await listing(3, before)
            seen += page
            if len(page) < 3:
                break
            before = (page[-1].requested_at, page[-1].request_id)
            # Asked between pages: newer than the position, so on no later page.
            late = await store.add(_asked(f"new-{uuid.uuid4()}", "a", T0 + timedelta(days=1)))
            added.add(late.order_id)
        assert seen == there and not added & {r.order_id for r in seen}


async def test_a_buyers_requests_go_a_page_at_a_time_and_a_bad_cursor_is_refused() -> None:
    orders = InMemoryOrders()
    requests = RefundRequests(OrderQueries(orders), InMemoryRefundRequestStore(), clock=lambda: T0)
    alice = User(uuid.uuid4(), "alice@example.com", "buyer")
    ids = []
    for n in range(3):
        placed = await orders.place(alice, "web", f"k{n}", [OrderItem("sku", 1, Money(100, "CNY"))])
        orders.orders[placed.order.order_id] = replace(placed.order, status="FULFILLED")
        requests._clock = lambda n=n: T0 + timedelta(minutes=n)  # type: ignore[misc]
        await requests.request(alice, placed.order.order_id, "other")
        ids.append(placed.order.order_id)
    first = await requests.of_buyer(alice, 2)
    assert [r.order_id for r in first.items] == ids[:0:-1] and first.next_cursor
    last = await requests.of_buyer(alice, 2, first.next_cursor)
    assert [r.order_id for r in last.items] == ids[:1] and last.next_cursor == ""
    assert {r.state for r in first.items + last.items} == {"requested"}
    assert [r.order_id for r in (await requests.latest(5)).items] == ids[::-1]
    for bad in ("nope", "WzEsMl0"):
        with pytest.raises(InvalidPageToken):
            await requests.of_buyer(alice, 2, bad)
        with pytest.raises(InvalidPageToken):
            await requests.latest(2, bad)


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
    assert (await requests.of_buyer(alice, 10)).items == (asked,)
    assert (await requests.of_buyer(bob, 10)).items == ()


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
        mine = (await requests.of_buyer(alice, 10)).items
        order = orders.orders[order_id]
        shown = await requests.of_order(alice, order)
        assert shown is not None and mine == (shown,)
        assert (await requests.request(alice, order_id, "other"))[0] == shown  # asking again: the same
        seen.append(shown.state)
    assert seen == ["processing", "processing", "declined", "processing", "refunded"]
    # Given the buyer's orders as read already (the user centre), the same; another buyer sees nothing.
    assert (await requests.of_orders(alice, list(orders.orders.values())))[order_id].state == "refunded"
    assert await requests.of_orders(User(uuid.uuid4(), "eve@example.com", "buyer"), []) == {}
    bob = User(uuid.uuid4(), "bob@example.com", "buyer")
    assert await requests.of_order(bob, orders.orders[order_id]) is None
