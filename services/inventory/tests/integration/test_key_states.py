"""Key states and validity on Postgres: channels, validity windows, FIFO/FEFO, pool priority, the sweeper."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application import catalogue, import_keys
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.expire import sweep_all_expired
from quanyi_inventory.application.ports import Context
from quanyi_inventory.domain.allocation import Allocation, OrderLine, PaidOrder, Reserved, Short
from quanyi_inventory.domain.catalogue import Money
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import UowFactory

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def new_sku(uow: UowFactory, strategy: str = "fifo", threshold: int = 0) -> str:
    product = await catalogue.create_product(uow(), name="Game card", kind="card_key")
    sku = await catalogue.create_sku(
        uow(), product_id=product.product_id, name="Card 100", price=Money(1000, "CNY"),
        low_stock_threshold=threshold, allocation_strategy=strategy,
    )
    return sku.sku_id


async def new_pool(uow: UowFactory, sku_id: str, priority: int = 0) -> str:
    return (await catalogue.create_pool(uow(), sku_id=sku_id, name=f"p{priority}", priority=priority)).pool_id


async def stock(
    uow: UowFactory,
    keyring: Keyring,
    pool_id: str,
    codes: Sequence[str],
    *,
    channel: str = "",
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
) -> list[str]:
    """Import `codes` as one batch; returns the key ids in code order."""
    batch = import_keys.prepare_batch(keyring, ("code\n" + "".join(f"{c}\n" for c in codes)).encode(), 1000)
    await import_keys.store_batch(
        uow(), batch, pool_id=pool_id, unit_cost=Money(300, "CNY"), actor="test", channel=channel,
        valid_from=valid_from, expires_at=expires_at,
    )
    return [row[0] for row in batch.rows]


async def sell(
    uow: UowFactory, order_id: str, sku_id: str, quantity: int, *, channel: str = "storefront",
    at: datetime = NOW,
) -> Allocation:
    order = PaidOrder(order_id, "b", "", channel, (OrderLine(1, sku_id, quantity),))
    outcomes = await allocate_paid_orders(uow(), [(order, Context(order_id))], clock=lambda: at)
    return outcomes[order_id]


def key_ids(outcome: Allocation) -> list[str]:
    assert isinstance(outcome, Reserved), outcome
    return [k.key_id for k in outcome.keys]


async def rows(pool: AsyncConnectionPool, sql: str, *args: object) -> list[dict[str, object]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        return list(await cur.fetchall())


async def test_fefo_hands_out_the_earliest_expiring_keys_first_and_never_expiring_ones_last(
    uow: UowFactory, keyring: Keyring
) -> None:
    sku = await new_sku(uow, "fefo")
    pool_id = await new_pool(uow, sku)
    never = await stock(uow, keyring, pool_id, ["N1"])
    late = await stock(uow, keyring, pool_id, ["L1", "L2"], expires_at=NOW + 30 * DAY)
    soon = await stock(uow, keyring, pool_id, ["S1"], expires_at=NOW + DAY)
    assert key_ids(await sell(uow, "o-1", sku, 2)) == [soon[0], late[0]]
    assert key_ids(await sell(uow, "o-2", sku, 2)) == [late[1], never[0]]


async def test_fifo_hands_out_keys_in_import_order_whatever_their_expiry(
    uow: UowFactory, keyring: Keyring
) -> None:
    sku = await new_sku(uow, "fifo")
    pool_id = await new_pool(uow, sku)
    first = await stock(uow, keyring, pool_id, ["A1"], expires_at=NOW + 30 * DAY)
    second = await stock(uow, keyring, pool_id, ["B1"], expires_at=NOW + DAY)
    assert key_ids(await sell(uow, "o-1", sku, 2)) == [first[0], second[0]]


async def test_a_sku_draws_from_its_pools_in_ascending_priority(uow: UowFactory, keyring: Keyring) -> None:
    sku = await new_sku(uow, "fefo")
    backup = await new_pool(uow, sku, priority=5)
    main = await new_pool(uow, sku, priority=0)
    from_backup = await stock(uow, keyring, backup, ["B1"], expires_at=NOW + DAY)
    from_main = await stock(uow, keyring, main, ["M1", "M2"], expires_at=NOW + 60 * DAY)
    assert key_ids(await sell(uow, "o-1", sku, 3)) == [*from_main, *from_backup]


async def test_expired_and_not_yet_valid_keys_are_never_handed_out(
    uow: UowFactory, keyring: Keyring
) -> None:
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    await stock(uow, keyring, pool_id, ["OLD"], expires_at=NOW - timedelta(seconds=1))
    await stock(uow, keyring, pool_id, ["EDGE"], expires_at=NOW)
    future = await stock(uow, keyring, pool_id, ["NEW"], valid_from=NOW + DAY)
    outcome = await sell(uow, "o-1", sku, 1)
    assert isinstance(outcome, Short) and outcome.lines[0].available == 0
    assert key_ids(await sell(uow, "o-2", sku, 1, at=NOW + DAY)) == future


async def test_a_channel_key_goes_only_to_its_channel_and_a_universal_key_to_any(
    uow: UowFactory, keyring: Keyring
) -> None:
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    app_only = await stock(uow, keyring, pool_id, ["APP1"], channel="app")
    universal = await stock(uow, keyring, pool_id, ["ANY1"])
    assert key_ids(await sell(uow, "o-1", sku, 1, channel="storefront")) == universal
    assert isinstance(await sell(uow, "o-2", sku, 1, channel="storefront"), Short)
    assert key_ids(await sell(uow, "o-3", sku, 1, channel="app")) == app_only


async def test_one_batch_with_two_channels_fills_both_from_shared_universal_keys(
    uow: UowFactory, keyring: Keyring
) -> None:
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    universal = await stock(uow, keyring, pool_id, ["U1", "U2", "U3"])
    orders = [
        (PaidOrder(f"o-{c}", "b", "", c, (OrderLine(1, sku, 1),)), Context())
        for c in ("app", "storefront", "tmall")
    ]
    outcomes = await allocate_paid_orders(uow(), orders, clock=lambda: NOW)
    handed = [k for o in outcomes.values() for k in key_ids(o)]
    assert sorted(handed) == sorted(universal)


async def test_the_sweeper_expires_due_keys_by_event_counts_them_and_reports_low_stock(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, database_url: str
) -> None:
    sku = await new_sku(uow, "fefo", threshold=2)
    pool_id = await new_pool(uow, sku)
    due = await stock(uow, keyring, pool_id, ["D1", "D2", "D3"], expires_at=NOW + DAY)
    await stock(uow, keyring, pool_id, ["K1", "K2", "K3"], expires_at=NOW + 90 * DAY)
    sold = key_ids(await sell(uow, "o-1", sku, 1))
    assert sold == [due[0]]
    assert await sweep_all_expired(uow, limit=1, clock=lambda: NOW + DAY) == 2
    assert await sweep_all_expired(uow, clock=lambda: NOW + DAY) == 0
    states = await rows(pool, "SELECT key_id, state, retired_at FROM keys WHERE key_id = ANY(%s)", due)
    assert {r["key_id"]: r["state"] for r in states} == {due[0]: "reserved", due[1]: "expired", due[2]: "expired"}
    assert {r["retired_at"] for r in states if r["state"] == "expired"} == {NOW + DAY}
    [sku_row] = await rows(pool, "SELECT available, reserved, expired, low_stock_alerted FROM sku_stock"
                                 " WHERE sku_id = %s", sku)
    assert sku_row == {"available": 3, "reserved": 1, "expired": 2, "low_stock_alerted": False}
    [pool_row] = await rows(pool, "SELECT available, reserved, expired FROM pool_stock WHERE pool_id = %s",
                            pool_id)
    assert pool_row == {"available": 3, "reserved": 1, "expired": 2}
    # Expiry can bring a SKU to its threshold: reported once.
    await sell(uow, "o-2", sku, 1, at=NOW + DAY)
    low = await rows(pool, "SELECT count(*) AS n FROM events WHERE event_type LIKE '%%.StockLow'")
    assert low == [{"n": 1}]
    expired_events = await rows(pool, "SELECT count(*) AS n FROM events WHERE event_type LIKE '%%.KeysExpired'")
    assert expired_events == [{"n": 2}]
    await assert_replay_matches_live(database_url, "inventory")


async def test_sixteen_concurrent_allocators_never_hand_a_key_out_twice_nor_outside_its_channel_or_window(
    uow: UowFactory, keyring: Keyring, pool: AsyncConnectionPool, database_url: str
) -> None:
    sku = await new_sku(uow, "fefo")
    main, backup = await new_pool(uow, sku, priority=0), await new_pool(uow, sku, priority=1)
    n = 0

    async def batch(pool_id: str, count: int, **window: object) -> None:
        nonlocal n
        await stock(uow, keyring, pool_id, [f"C{n + i}" for i in range(count)], **window)  # type: ignore[arg-type]
        n += count

    await batch(main, 60, expires_at=NOW + 3 * DAY)
    await batch(main, 30, expires_at=NOW - DAY)  # expired, not swept yet
    await batch(backup, 40, valid_from=NOW + DAY)  # not valid yet
    await batch(backup, 50)
    await batch(main, 30, channel="app", expires_at=NOW + 10 * DAY)
    usable_for = {"storefront": 60 + 50, "app": 60 + 50 + 30}

    async def allocator(worker: int) -> None:
        for b in range(8):
            orders = [
                (PaidOrder(f"w{worker}-b{b}-o{o}", "b", "", ("app", "storefront")[(worker + o) % 2],
                           (OrderLine(1, sku, 1 + (o + b) % 2),)), Context())
                for o in range(4)
            ]
            await allocate_paid_orders(uow(), orders, clock=lambda: NOW)

    await asyncio.gather(*(allocator(w) for w in range(16)))

    reserved = await rows(
        pool, "SELECT k.key_id, k.order_id, k.channel, k.valid_from, k.expires_at, a.outcome FROM keys k"
              " JOIN allocations a ON a.order_id = k.order_id WHERE k.state = 'reserved'"
    )
    assert len({r["key_id"] for r in reserved}) == len(reserved)
    assert all(r["outcome"] == "reserved" for r in reserved)
    assert all(r["valid_from"] is None or r["valid_from"] <= NOW for r in reserved)
    assert all(r["expires_at"] is None or r["expires_at"] > NOW for r in reserved)
    # An app key went only to an app order (the order id says which channel it was placed on).
    for r in reserved:
        worker, _, o = str(r["order_id"]).split("-")
        channel = ("app", "storefront")[(int(worker[1:]) + int(o[1:])) % 2]
        assert r["channel"] in ("", channel)
    decided = await rows(pool, "SELECT outcome, count(*) AS n FROM allocations GROUP BY outcome ORDER BY outcome")
    assert sum(int(d["n"]) for d in decided) == 16 * 8 * 4  # every order decided, once
    assert len(reserved) <= usable_for["app"]
    [counts] = await rows(pool, "SELECT available, reserved, expired FROM sku_stock WHERE sku_id = %s", sku)
    assert counts["reserved"] == len(reserved) and counts["available"] + counts["reserved"] == n
    [by_pool] = await rows(pool, "SELECT sum(available) AS a, sum(reserved) AS r FROM pool_stock WHERE sku_id = %s",
                           sku)
    assert (by_pool["a"], by_pool["r"]) == (counts["available"], counts["reserved"])
    assert await sweep_all_expired(uow, clock=lambda: NOW) == 30
    await assert_replay_matches_live(database_url, "inventory")


async def test_a_changed_pool_priority_changes_which_pool_a_sku_draws_from_next(
    uow: UowFactory, keyring: Keyring, database_url: str
) -> None:
    sku = await new_sku(uow)
    first, second = await new_pool(uow, sku, priority=0), await new_pool(uow, sku, priority=1)
    from_first = await stock(uow, keyring, first, ["F1", "F2"])
    from_second = await stock(uow, keyring, second, ["S1"])
    assert key_ids(await sell(uow, "o-1", sku, 1)) == from_first[:1]
    changed = await catalogue.set_pool_priority(uow(), pool_id=second, priority=0)
    await catalogue.set_pool_priority(uow(), pool_id=first, priority=7)
    assert (changed.priority, changed.version) == (0, 2)
    assert key_ids(await sell(uow, "o-2", sku, 2)) == [*from_second, from_first[1]]
    await assert_replay_matches_live(database_url, "inventory")


async def test_set_pool_priority_over_grpc_answers_the_pool_and_refuses_unknown_pools_and_bad_priorities(
    uow: UowFactory, stub: Any
) -> None:
    sku = await new_sku(uow)
    pool_id = await new_pool(uow, sku)
    reply = await stub.SetPoolPriority(pb.SetPoolPriorityRequest(pool_id=pool_id, priority=3))
    assert (reply.pool_id, reply.sku_id, reply.priority) == (pool_id, sku, 3)
    for request, code in [
        (pb.SetPoolPriorityRequest(pool_id="nope", priority=1), grpc.StatusCode.NOT_FOUND),
        (pb.SetPoolPriorityRequest(pool_id=pool_id, priority=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SetPoolPriority(request)
        assert caught.value.code() == code
