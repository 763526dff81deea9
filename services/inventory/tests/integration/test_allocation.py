"""The OrderPaid batch handler against real Postgres, called directly inside transactions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application import batches as batches_rules
from quanyi_inventory.application import catalogue
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder, Reserved, Short
from quanyi_inventory.domain.events import ALLOCATION, KeyReserved, Recorded
from quanyi_inventory.domain.money import Money
from quanyi_inventory.projections._events import ProjectionError
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore

from .conftest import Pay, UowFactory, import_codes


async def recorded(pool: AsyncConnectionPool) -> list[tuple[Any, Any]]:
    """(envelope, payload) of every event in the store, in order."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope FROM events ORDER BY seq")
        return [open_envelope(bytes(r["envelope"])) for r in await cur.fetchall()]


async def of_type(pool: AsyncConnectionPool, cls: type) -> list[Any]:
    return [payload for _, payload in await recorded(pool) if isinstance(payload, cls)]


async def reserved_rows(pool: AsyncConnectionPool) -> list[Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT key_id, order_id, line_no, unit_no FROM keys WHERE state = 'reserved' ORDER BY key_id"
        )
        return await cur.fetchall()


def order(order_id: str, *lines: tuple[str, int]) -> tuple[PaidOrder, Context]:
    lines_ = tuple(OrderLine(i, sku, q) for i, (sku, q) in enumerate(lines, start=1))
    return PaidOrder(order_id, f"buyer-{order_id}", "b@example.com", "web", lines_), Context(order_id, "")


async def test_a_paid_order_gets_one_key_per_unit_and_key_reserved_is_recorded(
    pool: AsyncConnectionPool, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    sku_a = await stock_sku(["A-1", "A-2", "A-3"], unit_cost=700)
    sku_b = await stock_sku(["B-1"])
    event = paid("order-1", [(sku_a, 2), (sku_b, 1)])
    await pay(event)

    [(envelope, reserved)] = [(e, p) for e, p in await recorded(pool) if isinstance(p, inventory_events.KeyReserved)]
    assert (envelope.aggregate_type, envelope.aggregate_id, envelope.aggregate_version) == ("Allocation", "order-1", 1)
    assert (envelope.correlation_id, envelope.causation_id) == ("order-1", event.event_id)
    assert (reserved.order_id, reserved.buyer_id, reserved.buyer_email, reserved.channel) == (
        "order-1", "buyer-order-1", "buyer@example.com", "web"
    )
    assert [(k.sku_id, k.line_no, k.unit_no, k.unit_cost.minor_units, k.unit_cost.currency) for k in reserved.keys] == [
        (sku_a, 1, 1, 700, "CNY"), (sku_a, 1, 2, 700, "CNY"), (sku_b, 2, 1, 500, "CNY")
    ]
    rows = await reserved_rows(pool)
    assert sorted(r["key_id"] for r in rows) == sorted(k.key_id for k in reserved.keys)
    assert {r["order_id"] for r in rows} == {"order-1"}


async def test_a_retried_order_gets_the_same_keys_and_records_nothing_new(
    pool: AsyncConnectionPool, uow: UowFactory, stock_sku: Any
) -> None:
    sku = await stock_sku([f"K-{i}" for i in range(5)])
    first = await allocate_paid_orders(uow(), [order("order-1", (sku, 2))])
    again = await allocate_paid_orders(uow(), [order("order-1", (sku, 2))])
    assert isinstance(first["order-1"], Reserved) and len(first["order-1"].keys) == 2
    assert again == first
    assert len(await of_type(pool, inventory_events.KeyReserved)) == 1
    assert len(await reserved_rows(pool)) == 2


async def test_an_order_repeated_within_one_batch_is_decided_once(
    pool: AsyncConnectionPool, uow: UowFactory, stock_sku: Any
) -> None:
    sku = await stock_sku([f"K-{i}" for i in range(5)])
    outcome = await allocate_paid_orders(uow(), [order("order-1", (sku, 2)), order("order-1", (sku, 2))])
    assert isinstance(outcome["order-1"], Reserved) and len(outcome["order-1"].keys) == 2
    assert len(await of_type(pool, inventory_events.KeyReserved)) == 1
    assert len(await reserved_rows(pool)) == 2


async def test_a_short_order_records_stock_short_and_keeps_no_key(
    pool: AsyncConnectionPool, uow: UowFactory, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    plenty = await stock_sku(["P-1", "P-2", "P-3"])
    scarce = await stock_sku(["S-1"])
    await pay(paid("order-1", [(plenty, 2), (scarce, 3)]))

    [short] = await of_type(pool, inventory_events.StockShort)
    assert short.order_id == "order-1"
    assert [(s.line_no, s.sku_id, s.wanted, s.available) for s in short.lines] == [(2, scarce, 3, 1)]
    assert await of_type(pool, inventory_events.KeyReserved) == []
    assert await reserved_rows(pool) == []

    # The decision stands: a retry reports the same shortage, and the keys stay free for others.
    outcome = await allocate_paid_orders(
        uow(), [order("order-1", (plenty, 2), (scarce, 3)), order("order-2", (scarce, 1))]
    )
    again, other = outcome["order-1"], outcome["order-2"]
    assert isinstance(again, Short) and [s.available for s in again.lines] == [1]
    assert isinstance(other, Reserved) and len(other.keys) == 1
    assert len(await of_type(pool, inventory_events.StockShort)) == 1


async def test_in_a_batch_a_short_order_leaves_its_keys_to_the_orders_after_it(
    pool: AsyncConnectionPool, uow: UowFactory, stock_sku: Any
) -> None:
    sku = await stock_sku(["B-1", "B-2", "B-3"])
    outcome = await allocate_paid_orders(
        uow(), [order("o-1", (sku, 2)), order("o-2", (sku, 2)), order("o-3", (sku, 1)), order("o-4", (sku, 1))]
    )
    assert [type(outcome[o]).__name__ for o in ("o-1", "o-2", "o-3", "o-4")] == ["Reserved", "Short", "Reserved", "Short"]
    short = outcome["o-2"]
    assert isinstance(short, Short) and [(s.wanted, s.available) for s in short.lines] == [(2, 1)]
    held = {r["key_id"]: r["order_id"] for r in await reserved_rows(pool)}
    assert sorted(held.values()) == ["o-1", "o-1", "o-3"]


async def test_an_order_for_an_unknown_sku_is_short_of_everything(
    pool: AsyncConnectionPool, paid: Any, pay: Pay
) -> None:
    await pay(paid("order-1", [("no-such-sku", 1)]))
    [short] = await of_type(pool, inventory_events.StockShort)
    assert [(s.wanted, s.available) for s in short.lines] == [(1, 0)]


async def test_stock_low_is_recorded_once_when_a_sku_falls_to_its_threshold(
    pool: AsyncConnectionPool, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    sku = await stock_sku([f"L-{i}" for i in range(6)], threshold=3)
    for i in range(4):
        await pay(paid(f"order-{i}", [(sku, 1)]))
    lows = [(e, p) for e, p in await recorded(pool) if isinstance(p, inventory_events.StockLow)]
    assert [(p.sku_id, p.available, p.threshold) for _, p in lows] == [(sku, 3, 3)]
    assert [(e.aggregate_type, e.aggregate_id, e.aggregate_version) for e, _ in lows] == [("SkuStock", sku, 1)]
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT available, low_stock_alerted, stock_version FROM sku_stock WHERE sku_id = %s", (sku,))
        assert await cur.fetchone() == {"available": 2, "low_stock_alerted": True, "stock_version": 1}


async def test_an_import_above_the_threshold_rearms_the_low_stock_alert(
    pool: AsyncConnectionPool, uow: UowFactory, keyring: Any, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    sku = await stock_sku(["R-1", "R-2"], threshold=1)
    await pay(paid("order-1", [(sku, 1)]))
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT pool_id FROM pools WHERE sku_id = %s", (sku,))
        pool_id = (await cur.fetchone())["pool_id"]  # type: ignore[index]
    await import_codes(uow, keyring, pool_id, ["R-3", "R-4"])
    await pay(paid("order-2", [(sku, 1)]), paid("order-3", [(sku, 1)]))
    events = [(e, p) for e, p in await recorded(pool) if e.aggregate_type == "SkuStock"]
    assert [(type(p).__name__, p.available, e.aggregate_version) for e, p in events] == [
        ("StockLow", 1, 1), ("StockLowCleared", 3, 2), ("StockLow", 1, 3)
    ]


async def test_concurrent_orders_never_share_a_key_and_exactly_the_stock_is_reserved(
    pool: AsyncConnectionPool, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    """200 orders of one unit race for 100 keys, each in its own connection and transaction."""
    sku = await stock_sku([f"C-{i:03d}" for i in range(100)], threshold=10)

    await asyncio.gather(*(pay(paid(f"order-{i:03d}", [(sku, 1)])) for i in range(200)))

    reserved = await of_type(pool, inventory_events.KeyReserved)
    short = await of_type(pool, inventory_events.StockShort)
    assert (len(reserved), len(short)) == (100, 100)
    key_ids = [k.key_id for r in reserved for k in r.keys]
    assert len(key_ids) == len(set(key_ids)) == 100
    assert {r.order_id for r in reserved}.isdisjoint({s.order_id for s in short})
    rows = await reserved_rows(pool)
    assert sorted(r["key_id"] for r in rows) == sorted(key_ids)
    assert len({r["order_id"] for r in rows}) == 100
    assert len(await of_type(pool, inventory_events.StockLow)) == 1


async def test_the_keys_projection_refuses_to_reserve_a_key_twice(
    pool: AsyncConnectionPool, uow: UowFactory, stock_sku: Any
) -> None:
    sku = await stock_sku(["T-1", "T-2"])
    first = (await allocate_paid_orders(uow(), [order("o-1", (sku, 1))]))["o-1"]
    assert isinstance(first, Reserved)
    again = Recorded(ALLOCATION, "o-2", 1, KeyReserved("o-2", "b", "", "web", first.keys))
    with pytest.raises(ProjectionError):
        async with uow() as unit:
            await unit.record([again])
    assert [r["order_id"] for r in await reserved_rows(pool)] == ["o-1"]


async def test_a_batch_voided_while_orders_are_claimed_voids_exactly_the_keys_no_order_took(
    pool: AsyncConnectionPool, uow: UowFactory, keyring: Any, paid: Any, pay: Pay
) -> None:
    """Allocations of one SKU run side by side; a void takes the SKU's claim lock exclusively, so it counts
    and moves exactly the batch's keys that no allocation holds, whichever commits first."""
    product = await catalogue.create_product(uow(), name="Race", kind="card_key")
    sku = await catalogue.create_sku(uow(), product_id=product.product_id, name="Race 10",
                                     price=Money(1000, "CNY"), low_stock_threshold=0)
    key_pool = await catalogue.create_pool(uow(), sku_id=sku.sku_id, name="main")
    first = await import_codes(uow, keyring, key_pool.pool_id, [f"V1-{i:03d}" for i in range(60)])
    second = await import_codes(uow, keyring, key_pool.pool_id, [f"V2-{i:03d}" for i in range(60)])

    batches = [[paid(f"race-{b}-{i}", [(sku.sku_id, 1)]) for i in range(10)] for b in range(8)]
    results = await asyncio.gather(
        *(pay(*batch) for batch in batches),
        batches_rules.void_batch(uow(), second.batch_id, actor="op", reason="leaked"),
    )

    voided = results[-1]
    reserved = await of_type(pool, inventory_events.KeyReserved)
    short = await of_type(pool, inventory_events.StockShort)
    key_ids = [k.key_id for r in reserved for k in r.keys]
    assert len(reserved) + len(short) == 80 and len(key_ids) == len(set(key_ids)) == len(reserved)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT batch_id, state, count(*) AS n FROM keys GROUP BY batch_id, state ORDER BY 1, 2"
        )
        counts = {(r["batch_id"], r["state"]): int(r["n"]) for r in await cur.fetchall()}
        cur = await conn.execute("SELECT available, reserved, void FROM sku_stock WHERE sku_id = %s", (sku.sku_id,))
        stock = await cur.fetchone()
    taken_from_second = counts.get((second.batch_id, "reserved"), 0)
    assert voided == 60 - taken_from_second == counts.get((second.batch_id, "void"), 0)
    assert counts.get((second.batch_id, "available"), 0) == 0
    assert counts.get((first.batch_id, "reserved"), 0) == len(reserved) - taken_from_second
    assert (stock["available"], stock["reserved"], stock["void"]) == (
        counts.get((first.batch_id, "available"), 0), len(reserved), voided
    )
    # An order is short only when no key was left for it (the void went first and took its keys).
    assert not short or stock["available"] == 0


async def test_an_order_waits_for_the_last_key_another_allocation_holds_and_gets_it_when_that_one_rolls_back(
    pool: AsyncConnectionPool, uow: UowFactory, store: EventStore, stock_sku: Any
) -> None:
    """Claims pass over keys another allocation holds; near the end of the stock they wait for them
    instead, so an allocation that rolls back never leaves a StockShort behind."""
    sku = await stock_sku(["L-1"])
    async with pool.connection() as holder:
        async with holder.transaction(force_rollback=True):
            first = await allocate_paid_orders(
                PgInventoryUnitOfWork(store, conn=holder), [order("o-first", (sku, 1))]
            )
            assert isinstance(first["o-first"], Reserved)
            second = asyncio.create_task(allocate_paid_orders(uow(), [order("o-second", (sku, 1))]))
            async with pool.connection() as watcher:
                for _ in range(200):  # until the second allocation waits for the held key's row lock
                    cur = await watcher.execute(
                        "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
                        " AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
                    )
                    if (await cur.fetchone())["n"] > 0:
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the second allocation did not wait for the held key")
            assert not second.done()
        # The first allocation rolled back: its key is free again, and the waiting one takes it.
    outcome = (await asyncio.wait_for(second, timeout=30))["o-second"]
    assert isinstance(outcome, Reserved) and len(outcome.keys) == 1
    assert await of_type(pool, inventory_events.StockShort) == []
