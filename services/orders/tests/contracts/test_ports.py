"""Orders' ports, one suite against both implementations: Postgres (with the projections running inline)
and the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_orders.adapters.memory import InMemoryOrdersEventLog, InMemoryOrdersUnitOfWork
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.proto_mapping import notice_new_event, order_new_events
from quanyi_orders.application.ports import IdempotencyKeyUsed, NoticeFacts, OrdersUnitOfWork
from quanyi_orders.domain.events import Event, PaymentNoticeAccepted
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import CapturePayment, Order, Place, RecordRiskDecision, RiskDecision, execute
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.testing.contracts import EventLogContract, Versions

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

UnitOfWorkFactory = Callable[[], OrdersUnitOfWork]


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> tuple[UnitOfWorkFactory, Versions]:
    """A unit-of-work factory over one store, and the versions the store holds of an aggregate."""
    if request.param == "memory":
        log = InMemoryOrdersEventLog("orders")

        async def fake_versions(aggregate_id: str) -> list[int]:
            return [e.aggregate_version for e in log.committed if e.aggregate_id == aggregate_id]

        return (lambda: InMemoryOrdersUnitOfWork(log)), fake_versions
    pool: AsyncConnectionPool = request.getfixturevalue("pool")
    store = request.getfixturevalue("store")

    async def pg_versions(aggregate_id: str) -> list[int]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq", (aggregate_id,)
            )
            found: list[Any] = await cur.fetchall()
            return [int(r["v"]) for r in found]

    return (lambda: PgOrdersUnitOfWork(store, pool=pool)), pg_versions


@pytest.fixture
def unit_of_work(backend: tuple[UnitOfWorkFactory, Versions]) -> UnitOfWorkFactory:
    return backend[0]


class TestOrdersEventLog(EventLogContract):
    """Orders' units of work keep the platform's EventLog contract, with orders' projections running."""

    @pytest.fixture
    def uow_factory(self, backend: tuple[UnitOfWorkFactory, Versions]) -> UnitOfWorkFactory:
        return backend[0]

    @pytest.fixture
    def committed_versions(self, backend: tuple[UnitOfWorkFactory, Versions]) -> Versions:
        return backend[1]


def placing(order_id: str, buyer_id: str = "b1", key: str = "k1", minutes: int = 0) -> tuple[Order, list[Event]]:
    order, events = execute(None, Place(
        order_id, buyer_id, f"{buyer_id}@example.com", "web", [("sku-a", 2, Money(500, "CNY"))], key,
        T0 + timedelta(minutes=minutes),
    ))
    assert order is not None
    return order, events


async def place(unit_of_work: UnitOfWorkFactory, order_id: str, **kw: Any) -> Order:
    order, events = placing(order_id, **kw)
    async with unit_of_work() as uow:
        await uow.events.append(order_new_events(order_id, 0, events, occurred_at=order.placed_at))
        await uow.commit()
    return order


async def capture(uow: OrdersUnitOfWork, order: Order, txn_id: str = "t1", nonce: str = "n1") -> Order:
    after, events = execute(order, CapturePayment(Money(1000, "CNY"), "psp", txn_id))
    assert after is not None
    notice = PaymentNoticeAccepted("psp", nonce, order.order_id, txn_id, f"notice-{nonce}")
    await uow.events.append([notice_new_event(notice), *order_new_events(order.order_id, order.version, events)])
    return after


async def test_a_placed_order_reads_back_by_id_by_its_key_and_in_its_buyers_list(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    order = await place(unit_of_work, "o1")
    async with unit_of_work() as uow:
        assert await uow.orders.get("o1") == order
        assert await uow.orders.by_idempotency_key("b1", "k1") == order
        assert await uow.orders.list_for_buyer("b1", 10) == [order]
        assert await uow.orders.get("o2") is None
        assert await uow.orders.by_idempotency_key("b1", "k2") is None
        assert await uow.orders.by_idempotency_key("b2", "k1") is None


async def test_a_buyers_orders_are_listed_newest_first_up_to_the_limit(unit_of_work: UnitOfWorkFactory) -> None:
    for n in range(3):
        await place(unit_of_work, f"o{n}", key=f"k{n}", minutes=n)
    await place(unit_of_work, "other", buyer_id="b2")
    async with unit_of_work() as uow:
        listed = await uow.orders.list_for_buyer("b1", 2)
    assert [o.order_id for o in listed] == ["o2", "o1"]


async def test_paging_a_buyers_orders_while_orders_are_placed_lists_each_order_once_newest_first(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    from quanyi_orders.application.orders import list_orders

    # Pairs placed at the same minute: the order id breaks the tie, so no page boundary splits or repeats.
    for n in range(7):
        await place(unit_of_work, f"o{n}", key=f"k{n}", minutes=n // 2)
    await place(unit_of_work, "other", buyer_id="b2", minutes=10)
    seen: list[str] = []
    token = ""
    for placed in range(100):
        page, token = await list_orders(unit_of_work(), "b1", 3, token)
        seen += [o.order_id for o in page]
        if not token:
            break
        # Placed between pages: newer than the position (the next pages do not show it) ...
        await place(unit_of_work, f"new{placed}", key=f"new{placed}", minutes=20 + placed)
    assert seen == ["o6", "o5", "o4", "o3", "o2", "o1", "o0"]
    newest, token = await list_orders(unit_of_work(), "b1", 0, "")
    assert [o.order_id for o in newest][:2] == ["new1", "new0"] and token == ""


async def test_a_page_token_that_is_not_one_is_refused_as_invalid(unit_of_work: UnitOfWorkFactory) -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.application.orders import list_orders
    from quanyi_orders.domain.errors import InvalidOrder
    from quanyi_platform import paging

    for bad in ("not-a-token", "x" * 300, paging.encode(T0, "o1")[:-3], "WyIyMDI2LTExLTMwVDEyOjAwOjAwIiwib1Ii"):
        with pytest.raises(InvalidOrder):
            await list_orders(unit_of_work(), "b1", 10, bad)
        with pytest.raises(InvalidOrder):
            await queue.list_queue(unit_of_work, True, 10, bad)


async def test_paging_the_exception_queue_while_orders_are_queued_lists_each_entry_once_oldest_first(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    from quanyi_orders.application import queue
    from quanyi_orders.domain.order import Queue, decide

    async def queued(order_id: str, minutes: int) -> None:
        order = await place(unit_of_work, order_id, key=order_id)
        async with unit_of_work() as uow:
            paid = await capture(uow, order, txn_id=f"t-{order_id}", nonce=f"n-{order_id}")
            await uow.events.append(order_new_events(
                order_id, paid.version, decide(paid, Queue("overdue", "deadline")),
                occurred_at=T0 + timedelta(minutes=minutes),
            ))
            await uow.commit()

    for n in range(5):
        await queued(f"q{n}", 100 + n // 2)
    seen: list[str] = []
    token = ""
    for added in range(100):
        page, token = await queue.list_queue(unit_of_work, False, 2, token)
        seen += [e.order_id for e in page]
        if not token:
            break
        await queued(f"early{added}", added)  # queued before the position: not on the later pages
        await queued(f"late{added}", 200 + added)  # after every entry: on a later page, once
    assert seen == ["q0", "q1", "q2", "q3", "q4", "late0", "late1", "late2"]
    everything, token = await queue.list_queue(unit_of_work, True, 0, "")
    assert [e.order_id for e in everything][:2] == ["early0", "early1"] and token == ""


async def test_orders_are_locked_and_loaded_many_at_once_and_unknown_ones_are_left_out(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = await place(unit_of_work, "o1", key="k1")
    second = await place(unit_of_work, "o2", key="k2")
    async with unit_of_work() as uow:
        assert await uow.orders.get_many_for_update(["o2", "nope", "o1"]) == {"o1": first, "o2": second}
        assert await uow.orders.get_many_for_update([]) == {}


async def test_an_orders_state_follows_its_events_appended_in_later_units_of_work(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    order = await place(unit_of_work, "o1")
    async with unit_of_work() as uow:
        [loaded] = (await uow.orders.get_many_for_update(["o1"])).values()
        captured = await capture(uow, loaded)
        await uow.commit()
    async with unit_of_work() as uow:
        approved, events = execute(await uow.orders.get("o1"), RecordRiskDecision(RiskDecision.APPROVE))
        await uow.events.append(order_new_events("o1", captured.version, events))
        await uow.commit()
    async with unit_of_work() as uow:
        assert await uow.orders.get("o1") == approved
    assert approved is not None and (approved.status.value, approved.version) == ("PAID", 3)
    assert order.placed_at == approved.placed_at


async def test_what_a_unit_of_work_appends_it_reads_back_before_it_commits(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    order, events = placing("o1")
    async with unit_of_work() as uow:
        await uow.events.append(order_new_events("o1", 0, events, occurred_at=order.placed_at))
        captured = await capture(uow, order)
        assert await uow.orders.get("o1") == captured
        assert (await uow.orders.get_for_payment_notice("o1", "psp", "n1", "t1"))[1] == NoticeFacts(True, "o1")
        await uow.commit()
    async with unit_of_work() as uow:
        assert await uow.orders.get("o1") == captured


async def test_a_unit_of_work_left_without_commit_keeps_nothing_it_appended(unit_of_work: UnitOfWorkFactory) -> None:
    order = await place(unit_of_work, "o1")
    async with unit_of_work() as uow:
        loaded = (await uow.orders.get_many_for_update(["o1"]))["o1"]
        await capture(uow, loaded)
    async with unit_of_work() as uow:
        assert await uow.orders.get("o1") == order
        assert await uow.orders.get_for_payment_notice("o1", "psp", "n1", "t1") == (order, NoticeFacts(False, None))


async def test_a_key_the_buyer_used_before_is_refused_and_nothing_of_the_unit_is_kept(
    unit_of_work: UnitOfWorkFactory, backend: tuple[UnitOfWorkFactory, Versions]
) -> None:
    first = await place(unit_of_work, "o1", key="k1")
    _, other = placing("o3", key="k3")
    _, again = placing("o2", key="k1")
    with pytest.raises(IdempotencyKeyUsed):
        async with unit_of_work() as uow:
            await uow.events.append(order_new_events("o3", 0, other))
            await uow.events.append(order_new_events("o2", 0, again))
            await uow.commit()
    await place(unit_of_work, "o4", buyer_id="b2", key="k1")  # the same key, another buyer: another order
    async with unit_of_work() as uow:
        assert await uow.orders.by_idempotency_key("b1", "k1") == first
        assert await uow.orders.get("o2") is None
        assert await uow.orders.get("o3") is None
        assert await uow.orders.get("o4") is not None
    assert await backend[1]("o3") == []


async def test_a_notice_reports_its_nonce_and_transaction_and_an_unknown_order_is_none(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    order = await place(unit_of_work, "o1")
    await place(unit_of_work, "o2", key="k2")
    async with unit_of_work() as uow:
        captured = await capture(uow, order, txn_id="t1", nonce="n1")
        await uow.commit()
    async with unit_of_work() as uow:
        assert await uow.orders.get_for_payment_notice("o1", "psp", "n1", "t1") == (captured, NoticeFacts(True, "o1"))
        found, facts = await uow.orders.get_for_payment_notice("o2", "psp", "n2", "t1")
        assert facts == NoticeFacts(False, "o1")
        assert found is not None and found.order_id == "o2"
        assert await uow.orders.get_for_payment_notice("o9", "psp", "n3", "t3") == (None, NoticeFacts(False, None))


async def test_a_nonce_or_a_provider_transaction_accepted_twice_is_a_conflict_and_keeps_nothing(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = await place(unit_of_work, "o1")
    second = await place(unit_of_work, "o2", key="k2")
    async with unit_of_work() as uow:
        await capture(uow, first, txn_id="t1", nonce="n1")
        await uow.commit()
    for txn_id, nonce in (("t2", "n1"), ("t1", "n2")):
        with pytest.raises(ConcurrencyConflict):
            async with unit_of_work() as uow:
                await capture(uow, second, txn_id=txn_id, nonce=nonce)
                await uow.commit()
    async with unit_of_work() as uow:
        assert await uow.orders.get("o2") == second
        assert (await uow.orders.get_for_payment_notice("o2", "psp", "n2", "t2"))[1] == NoticeFacts(False, None)


async def test_notices_of_several_orders_load_their_orders_and_facts_in_one_read_in_the_order_given(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    order = await place(unit_of_work, "o1")
    other = await place(unit_of_work, "o2", key="k2")
    async with unit_of_work() as uow:
        captured = await capture(uow, order, txn_id="t1", nonce="n1")
        await uow.commit()
    async with unit_of_work() as uow:
        orders, facts = await uow.orders.get_for_payment_notices([
            ("o2", "psp", "n2", "t1"), ("o9", "psp", "n3", "t3"), ("o1", "psp", "n1", "t1"), ("o2", "psp", "n1", "t2"),
        ])
        assert orders == {"o1": captured, "o2": other}
        assert facts == [
            NoticeFacts(False, "o1"), NoticeFacts(False, None), NoticeFacts(True, "o1"), NoticeFacts(True, None)
        ]
        assert await uow.orders.get_for_payment_notices([]) == ({}, [])


async def test_orders_are_found_by_many_keys_at_once_and_unused_keys_are_left_out(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    first = await place(unit_of_work, "o1")
    second = await place(unit_of_work, "o2", buyer_id="b2")
    async with unit_of_work() as uow:
        found = await uow.orders.by_idempotency_keys([("b1", "k1"), ("b2", "k1"), ("b1", "k9"), ("b3", "k1")])
        assert found == {("b1", "k1"): first, ("b2", "k1"): second}
        assert await uow.orders.by_idempotency_keys([]) == {}


async def test_every_buyers_orders_are_searched_by_channel_and_status_newest_first_a_page_at_a_time(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    from quanyi_orders.application.orders import search_orders
    from quanyi_orders.domain.errors import InvalidOrder

    for n in range(3):
        await place(unit_of_work, f"o{n}", buyer_id=f"b{n}", key=f"k{n}", minutes=n)
    tmall, events = execute(None, Place(
        "t1", "b9", "", "tmall", [("sku-a", 1, Money(500, "CNY"))], "kt", T0 + timedelta(minutes=5),
    ))
    assert tmall is not None
    async with unit_of_work() as uow:
        await uow.events.append(order_new_events("t1", 0, events, occurred_at=tmall.placed_at))
        await uow.commit()

    page, token = await search_orders(unit_of_work(), "", "", 2, "")
    assert [o.order_id for o in page] == ["t1", "o2"] and token
    page, token = await search_orders(unit_of_work(), "", "", 2, token)
    assert [o.order_id for o in page] == ["o1", "o0"] and token == ""
    page, _ = await search_orders(unit_of_work(), "tmall", "", 10, "")
    assert [o.order_id for o in page] == ["t1"]
    page, _ = await search_orders(unit_of_work(), "web", "PENDING_PAYMENT", 10, "")
    assert [o.order_id for o in page] == ["o2", "o1", "o0"]
    assert (await search_orders(unit_of_work(), "", "FULFILLED", 10, ""))[0] == []
    with pytest.raises(InvalidOrder):
        await search_orders(unit_of_work(), "", "", 10, "not-a-token")


async def test_an_orders_history_is_its_recorded_events_in_order_and_none_for_an_unknown_order(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    import json

    from quanyi_orders.application.errors import OrderNotFound
    from quanyi_orders.application.orders import order_history

    order = await place(unit_of_work, "o1")
    async with unit_of_work() as uow:
        await capture(uow, order)
        await uow.commit()
    await place(unit_of_work, "other", buyer_id="b2")
    history = await order_history(unit_of_work(), "o1")
    types = [e.type.rsplit(".", 1)[-1] for e in history]
    assert types[0] == "OrderPlaced" and "PaymentCaptured" in types
    assert all(e.event_id and e.occurred_at.tzinfo is not None for e in history)
    assert json.loads(history[0].payload_json)["orderId"] == "o1"
    with pytest.raises(OrderNotFound):
        await order_history(unit_of_work(), "nope")
