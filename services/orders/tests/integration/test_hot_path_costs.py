"""What orders' hot path costs Postgres, counted on the wire (libpq's protocol trace): statements the client
sends, and round trips (the times it waits for the server: after a Sync, a Flush or a simple Query)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from psycopg import pq
from psycopg_pool import AsyncConnectionPool
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.application.errors import OrderNotFound
from quanyi_orders.application.holds import HoldPolicy
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.bootstrap import MIGRATIONS, NAME, event_store
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import RecordDelivery, RecordRiskDecision, RiskDecision
from quanyi_platform import db
from quanyi_platform.eventstore import EventStore

T = TypeVar("T")


@dataclass(frozen=True)
class Cost:
    statements: int
    round_trips: int


class Wire:
    """Traces the one connection of a pool of one."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def cost(self, work: Callable[[], Awaitable[T]]) -> tuple[Cost, T]:
        async with self._pool.connection() as conn:
            trace = tempfile.TemporaryFile("w+")
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            result = await work()
        finally:
            async with self._pool.connection() as conn:
                conn.pgconn.untrace()
        trace.seek(0)
        statements = round_trips = 0
        waits = False  # whether the client's messages since the server last spoke end in a wait
        for line in trace:
            direction, _, message = line.rstrip("\n").split("\t")[:3]
            kind = message.split(" ")[0]
            if direction == "F":
                statements += kind in ("Execute", "Query")
                # The client waits for the server after a Sync, a Flush or a simple Query, and only then
                # (what the server sends meanwhile may be read without waiting).
                waits = waits or kind in ("Sync", "Flush", "Query")
            elif waits:
                round_trips += 1
                waits = False
        return Cost(statements, round_trips), result


@pytest.fixture
async def pool_of_one(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, NAME, MIGRATIONS)
    p = await db.create_pool(database_url, NAME, 1, 1)
    try:
        yield p
    finally:
        await p.close()


def place(n: int) -> app.PlaceOrder:
    return app.PlaceOrder(f"buyer-{n}", "b@example.com", "web", [("sku-a", 1, Money(1000, "CNY"))], f"key-{n}")


def notice(order_id: str, n: int) -> app.PaymentNotice:
    return app.PaymentNotice("psp-sim", f"nonce-{n}", f"notice-{n}", order_id, f"txn-{n}", Money(1000, "CNY"))


async def test_placing_costs_one_round_trip_a_notice_two_and_a_read_one(pool_of_one: AsyncConnectionPool) -> None:
    store = event_store()
    wire = Wire(pool_of_one)

    def uow() -> PgOrdersUnitOfWork:
        return PgOrdersUnitOfWork(store, pool=pool_of_one)

    # The event INSERT, the orders projection's INSERT and the stock holds', in one implicit transaction.
    cost, placed = await wire.cost(lambda: app.place_order(uow(), place(1)))
    assert cost == Cost(3, 1)
    order_id = placed.order.order_id
    # SELECT ... FOR UPDATE (with the nonce and the transaction); then the event INSERT and the projection.
    cost, captured = await wire.cost(lambda: app.capture_notified_payment(uow(), notice(order_id, 1)))
    assert cost == Cost(3, 2) and captured.order.status.value == "CAPTURED"
    assert (await wire.cost(lambda: app.get_order(uow(), order_id)))[0] == Cost(1, 1)
    # The key again: the append is refused, and the order that holds the key is read.
    cost, again = await wire.cost(lambda: app.place_order(uow(), place(1)))
    # (The holds' INSERT is sent or not depending on whether the pipeline had reported the refusal yet.)
    assert cost.round_trips == 2 and cost.statements in (4, 5) and again.replayed


async def test_a_consumer_batch_costs_three_statements_whatever_its_size(pool_of_one: AsyncConnectionPool) -> None:
    store: EventStore = event_store()
    wire = Wire(pool_of_one)
    ids = []
    for n in range(10):
        placed = await app.place_order(PgOrdersUnitOfWork(store, pool=pool_of_one), place(n))
        await app.capture_notified_payment(
            PgOrdersUnitOfWork(store, pool=pool_of_one), notice(placed.order.order_id, n)
        )
        ids.append(placed.order.order_id)
    facts = [
        fact for i in ids for fact in (
            OrderFact(i, RecordRiskDecision(RiskDecision.APPROVE), f"cause-{i}"),
            OrderFact(i, RecordDelivery(), f"delivered-{i}"),
        )
    ]

    async def batch() -> None:
        async with pool_of_one.connection() as conn, conn.transaction():
            await apply_order_facts(PgOrdersUnitOfWork(store, conn=conn), facts)

    # BEGIN and COMMIT (the consumer's; it adds its inbox INSERT), the locking SELECT, then one pipeline
    # of the event INSERT, the projection's UPDATE and the release of the stock holds (OrderPaid) for 20
    # events of 10 orders.
    assert (await wire.cost(batch))[0] == Cost(6, 4)
    async with pool_of_one.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM orders WHERE status = 'FULFILLED'")
        row: Any = await cur.fetchone()
        assert row["n"] == 10


async def test_concurrent_calls_share_one_unit_of_work_two_statements_per_group_of_orders_three_per_group_of_notices(
    pool_of_one: AsyncConnectionPool,
) -> None:
    store = event_store()
    wire = Wire(pool_of_one)
    entry = OrdersEntry(lambda: PgOrdersUnitOfWork(store, pool=pool_of_one))

    # 20 PlaceOrder calls at once (two of them with one key): one append and its projection, one Sync.
    commands = [place(n) for n in range(19)] + [place(0)]
    cost, placed = await wire.cost(lambda: asyncio.gather(*[entry.place(c) for c in commands]))
    assert (entry.placing.groups, entry.placing.calls) == (1, 20)
    assert cost == Cost(3, 1)  # alone: 3 statements each, 60 in all
    assert placed[19].order == placed[0].order and placed[19].replayed
    # 20 notices at once, one of them for an unknown order: one locking read for all, then one append.
    notices = [notice(p.order.order_id, n) for n, p in enumerate(placed[:19])] + [notice("ghost", 99)]
    cost, captured = await wire.cost(
        lambda: asyncio.gather(*[entry.capture(n) for n in notices], return_exceptions=True)
    )
    assert (entry.capturing.groups, entry.capturing.calls) == (1, 20)
    assert cost == Cost(3, 2)  # alone: 3 statements each, 60 in all
    assert [c.order.status.value for c in captured[:19]] == ["CAPTURED"] * 19  # type: ignore[union-attr]
    assert isinstance(captured[19], OrderNotFound)


async def test_a_group_of_placements_taking_stock_holds_costs_two_round_trips(
    pool_of_one: AsyncConnectionPool,
) -> None:
    store = event_store()
    wire = Wire(pool_of_one)
    entry = OrdersEntry(lambda: PgOrdersUnitOfWork(store, pool=pool_of_one), holds=HoldPolicy(client_key=b"k"))
    # The holds' locks and their count (one round trip), then the append, its two projections and the Sync.
    cost, placed = await wire.cost(lambda: asyncio.gather(*[entry.place(place(n)) for n in range(20)]))
    assert (entry.placing.groups, entry.placing.calls) == (1, 20)
    assert cost == Cost(5, 2) and not any(p.replayed for p in placed)
