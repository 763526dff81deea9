"""Round trips of inventory's hot paths: the cost of a batch of paid orders does not grow with its size."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.application.reveal import RevealRequest, reveal_keys, reveal_orders_keys
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder
from quanyi_platform.eventstore import EventStore


class Counting:
    """A connection that counts the statements sent through it (execute, and execute on its cursors)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements: list[str] = []

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.statements.append(" ".join(str(query).split())[:50])
        return await self._conn.execute(query, *args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return _CountingCursor(self, self._conn.cursor(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _CountingCursor:
    def __init__(self, owner: Counting, cursor: Any) -> None:
        self._owner = owner
        self._cursor = cursor

    async def __aenter__(self) -> _CountingCursor:
        self._inner = await self._cursor.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._cursor.__aexit__(*exc)

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self._owner.statements.append(" ".join(str(query).split())[:50])
        return await self._inner.execute(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def statements_of_a_batch(pool: AsyncConnectionPool, store: EventStore, orders: list[PaidOrder]) -> list[str]:
    async with pool.connection() as conn, conn.transaction():
        counting = Counting(conn)
        await allocate_paid_orders(PgInventoryUnitOfWork(store, conn=counting), [(o, Context()) for o in orders])
        return counting.statements


def orders(prefix: str, n: int, skus: list[str]) -> list[PaidOrder]:
    return [
        PaidOrder(f"{prefix}-{i}", "b", "", "web", tuple(OrderLine(j, sku, 1) for j, sku in enumerate(skus, 1)))
        for i in range(n)
    ]


async def test_a_batch_of_paid_orders_costs_five_statements_whatever_its_size(
    pool: AsyncConnectionPool, store: EventStore, stock_sku: Any
) -> None:
    a = await stock_sku([f"A-{i}" for i in range(200)])
    b = await stock_sku([f"B-{i}" for i in range(60)])
    one = await statements_of_a_batch(pool, store, orders("one", 1, [a]))
    many = await statements_of_a_batch(pool, store, orders("many", 100, [a, b]))  # 40 of them short of b
    # A savepoint and the load (the SKUs' stock and claim locks, decided orders, claim keys) in one round
    # trip; append the events; the projections keys, allocations and sku_stock, one statement each.
    assert len(one) == 6, one
    assert one[:2] == ["SAVEPOINT allocation_claim", many[1]] and many[1].startswith("WITH stock AS MATERIALIZED")
    # 40 of `many` found too few keys of b: back to the savepoint, and the load again, waiting for keys
    # held by allocations in flight (none here), before they are answered StockShort.
    assert len(many) == 8, many
    assert many[2].startswith("ROLLBACK TO SAVEPOINT") and many[3] == many[1]


async def test_a_low_stock_threshold_costs_one_statement_more_and_a_crossing_one_append(
    pool: AsyncConnectionPool, store: EventStore, stock_sku: Any
) -> None:
    a = await stock_sku([f"A-{i}" for i in range(200)], threshold=150)
    b = await stock_sku([f"B-{i}" for i in range(60)])
    one = await statements_of_a_batch(pool, store, orders("one", 1, [a]))
    many = await statements_of_a_batch(pool, store, orders("many", 100, [a, b]))  # a falls to 139
    # The six, then a's stock locked after the append (exact counts) ...
    assert len(one) == 7, one
    assert one[6].startswith("SELECT sku_id, low_stock_threshold"), one
    # ... and (b short: the waiting load, as above) the StockLow it decides on them: its append and the
    # sku_stock projection.
    assert len(many) == 11, many


async def test_a_reveal_costs_three_statements(
    pool: AsyncConnectionPool, store: EventStore, stock_sku: Any, keyring: Any
) -> None:
    sku = await stock_sku(["R-1", "R-2", "R-3"])
    await statements_of_a_batch(pool, store, orders("o", 1, [sku, sku, sku]))
    async with pool.connection() as conn, conn.transaction():
        counting = Counting(conn)
        keys = await reveal_keys(
            PgInventoryUnitOfWork(store, conn=counting), keyring, order_id="o-0", key_ids=[], actor="f", purpose="d"
        )
    assert len(keys) == 3
    # The sealed keys; the KeysRevealed event; the key_reveals projection.
    assert len(counting.statements) == 3, counting.statements


async def test_a_reveal_of_many_orders_costs_the_same_three_statements(
    pool: AsyncConnectionPool, store: EventStore, stock_sku: Any, keyring: Any
) -> None:
    sku = await stock_sku([f"M-{i}" for i in range(60)])
    await statements_of_a_batch(pool, store, orders("m", 30, [sku, sku]))
    requests = [RevealRequest(f"m-{i}", [], "fulfillment", "delivery") for i in range(30)]
    async with pool.connection() as conn, conn.transaction():
        counting = Counting(conn)
        results = await reveal_orders_keys(PgInventoryUnitOfWork(store, conn=counting), keyring, requests)
    assert [len(r.keys) for r in results] == [2] * 30 and not any(r.error for r in results)
    # The sealed keys of all the orders; the 30 KeysRevealed in one append; the key_reveals projection.
    assert len(counting.statements) == 3, counting.statements
