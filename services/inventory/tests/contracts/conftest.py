"""Inventory's ports, each held to one contract suite, run against the in-memory fakes and Postgres.

`backend` is parametrized: every test of the suites runs once on each. Helpers seed the store through the
application's use cases, which work on either.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.memory import InMemoryInventory
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application import catalogue, import_keys
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context, InventoryUnitOfWork
from quanyi_inventory.domain.allocation import Allocation, OrderLine, PaidOrder
from quanyi_inventory.domain.money import Money
from quanyi_platform import db


@dataclass(frozen=True)
class Backend:
    name: str
    uow: Callable[[], InventoryUnitOfWork]
    committed_versions: Callable[[str], Awaitable[list[int]]]


@pytest.fixture(params=["memory", "postgres"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        store = InMemoryInventory()

        async def in_memory(aggregate_id: str) -> list[int]:
            return [e.aggregate_version for e in store.committed if e.aggregate_id == aggregate_id]

        yield Backend("memory", store.uow, in_memory)
        return
    url: str = request.getfixturevalue("database_url")
    await db.migrate(url, "inventory", ["quanyi_inventory.migrations"])
    pool = await db.create_pool(url, "inventory", min_size=1, max_size=10)
    events = bootstrap.event_store()

    async def in_postgres(aggregate_id: str) -> list[int]:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq", (aggregate_id,)
            )
            return [int(r["v"]) for r in await cur.fetchall()]

    try:
        yield Backend("postgres", lambda: PgInventoryUnitOfWork(events, pool=pool), in_postgres)
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring({"k1": os.urandom(32), "k2": os.urandom(32)}, "k1")


async def new_sku(backend: Backend, threshold: int = 0, name: str = "Steam 100") -> tuple[str, str]:
    """A product, a SKU and a pool; returns (sku_id, pool_id)."""
    product = await catalogue.create_product(backend.uow(), name="Steam", kind="card_key")
    sku = await catalogue.create_sku(
        backend.uow(), product_id=product.product_id, name=name, price=Money(1000, "CNY"),
        low_stock_threshold=threshold,
    )
    pool = await catalogue.create_pool(backend.uow(), sku_id=sku.sku_id, name="main")
    return sku.sku_id, pool.pool_id


async def import_codes(
    backend: Backend, keyring: Keyring, pool_id: str, codes: Sequence[str], cost: int = 500
) -> import_keys.ImportResult:
    csv = ("code,password\n" + "".join(f"{c},pw-{c}\n" for c in codes)).encode()
    batch = import_keys.prepare_batch(keyring, csv, 1_000_000)
    return await import_keys.store_batch(
        backend.uow(), batch, pool_id=pool_id, unit_cost=Money(cost, "CNY"), actor="test"
    )


async def pay(backend: Backend, order_id: str, *lines: tuple[str, int]) -> Allocation:
    order = PaidOrder(
        order_id, "buyer", "b@example.com", "web",
        tuple(OrderLine(i, sku, n) for i, (sku, n) in enumerate(lines, start=1)),
    )
    return (await allocate_paid_orders(backend.uow(), [(order, Context(order_id))]))[order_id]
