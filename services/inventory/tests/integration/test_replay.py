"""Invariant I6 for inventory: after a realistic flow, its projections rebuilt from the event store and from
its topic equal the live tables.

The flow runs the service's parts as the process does, on real Postgres and the real broker: the gRPC API
(catalogue, imports with duplicates, reveals), the OrderPaid consumer fed through the broker (paid orders,
short ones, a redelivery, a repeated OrderPaid, several lines), the relay publishing inventory's events, a
master-key rotation, and deliveries, a redemption and refunds of the keys sold (through the handlers).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2, money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application.allocate import allocate_paid_orders
from quanyi_inventory.application.ports import Context
from quanyi_inventory.application.rotate import rotate_master_key
from quanyi_inventory.config import DEV_MASTER_KEY_ID, DEV_MASTER_KEYS, Settings
from quanyi_inventory.domain.allocation import OrderLine, PaidOrder
from quanyi_inventory.entrypoints.consumers import fulfillment_handler, order_paid_handler
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.envelope import kafka_headers, new_event_id
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.relay import Relay
from quanyi_platform.replay import ServiceProjections, digest_of, drop_shadow, rebuild, swap, verify
from quanyi_platform.testing.replay import assert_replay_matches_live

from .test_key_life import delivered, redeemed, refund_requested

Stub = pb_grpc.InventoryServiceStub


def cny(minor: int) -> money_pb2.Money:
    return money_pb2.Money(minor_units=minor, currency="CNY")


def order_paid(order_id: str, lines: list[tuple[str, int]]) -> envelope_pb2.Envelope:
    payload = orders_events.OrderPaid(
        order_id=order_id, buyer_id=f"buyer-{order_id}", channel="web", buyer_email="b@example.com",
        lines=[orders_events.OrderLine(line_no=i, sku_id=s, quantity=q) for i, (s, q) in enumerate(lines, 1)],
    )
    return envelope_pb2.Envelope(
        event_id=new_event_id(), type=orders_events.OrderPaid.DESCRIPTOR.full_name, aggregate_type="Order",
        aggregate_id=order_id, aggregate_version=3, correlation_id=order_id, producer="orders",
        payload=payload.SerializeToString(),
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def count(pool: AsyncConnectionPool, query: str, params: tuple[Any, ...] = ()) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        row: Any = await cur.fetchone()
        return int(next(iter(row.values())))


async def test_projections_rebuilt_from_the_store_and_the_topic_equal_live_after_a_realistic_flow(
    database_url: str, broker: Any, pool: AsyncConnectionPool, stub: Stub, store: EventStore
) -> None:
    settings = Settings(
        database_url=database_url, kafka_bootstrap=broker.bootstrap, kafka_session_timeout_ms=6000,
    )
    await ensure_topics(settings, [topic_for("orders"), topic_for("inventory")])
    consumer = InboxConsumer(
        f"inventory-replay-{uuid.uuid4().hex[:8]}", [topic_for("orders")], order_paid_handler(store), pool, settings
    )
    tasks = [
        asyncio.create_task(Relay(pool, settings, store.topic, wakeup=store.appended).run()),
        asyncio.create_task(consumer.run()),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        # The catalogue and the stock, through the API.
        product = await stub.CreateProduct(pb.CreateProductRequest(name="Game cards", kind=""))
        skus = []
        for name, threshold, n in [("Steam 50", 3, 12), ("Xbox 100", 0, 4), ("Empty", 1, 0)]:
            sku = (await stub.CreateSku(pb.CreateSkuRequest(
                product_id=product.product_id, name=name, price=cny(5_000), low_stock_threshold=threshold
            ))).sku
            key_pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku_id, name="main"))
            if n:
                csv = "code,password\n" + "".join(f"{name}-{i},pw{i}\n" for i in range(n)) + f"{name}-0,pw0\n,x\n"
                await stub.ImportKeys(pb.ImportKeysRequest(
                    pool_id=key_pool.pool_id, csv=csv.encode(), unit_cost=cny(3_000), actor="admin:alice"
                ))
            skus.append((sku.sku_id, key_pool.pool_id))
        (steam, steam_pool), (xbox, _), (empty, _) = skus
        # Thresholds set by an operator (the Sku's versions 2 and 3): the latest wins, live and rebuilt.
        for sku_id, threshold in [(xbox, 2), (steam, 5), (steam, 4)]:
            await stub.SetLowStockThreshold(pb.SetLowStockThresholdRequest(
                sku_id=sku_id, low_stock_threshold=threshold
            ))

        # Paid orders through the broker: plenty, multi-line, short, one delivered twice, one paid twice.
        orders: list[envelope_pb2.Envelope] = [order_paid(f"o-{i}", [(steam, 1)]) for i in range(8)]
        orders += [order_paid("o-multi", [(steam, 2), (xbox, 1)]), order_paid("o-short", [(xbox, 9)])]
        orders += [order_paid("o-none", [(empty, 1)]), order_paid("o-0", [(steam, 1)])]
        for env in [*orders, orders[3]]:
            await producer.send_and_wait(
                topic_for("orders"), env.SerializeToString(), key=env.aggregate_id.encode(),
                headers=kafka_headers(env),
            )
        distinct = {env.aggregate_id for env in orders}
        await eventually(lambda: _decided(pool, distinct))

        # A restock that re-arms the low-stock alert, then more sales.
        await stub.ImportKeys(pb.ImportKeysRequest(
            pool_id=steam_pool, csv=b"code\nRESTOCK-1\nRESTOCK-2\nRESTOCK-3\n", unit_cost=cny(2_500), actor="admin:bob"
        ))
        late = [order_paid(f"late-{i}", [(steam, 2)]) for i in range(3)]
        for env in late:
            await producer.send_and_wait(
                topic_for("orders"), env.SerializeToString(), key=env.aggregate_id.encode(), headers=kafka_headers(env)
            )
        await eventually(lambda: _decided(pool, distinct | {env.aggregate_id for env in late}))

        # Reveals (audited), and a master-key rotation.
        await stub.RevealKeys(pb.RevealKeysRequest(order_id="o-multi", actor="fulfillment", purpose="delivery"))
        held = await stub.RevealKeys(pb.RevealKeysRequest(order_id="o-1", actor="buyer:b", purpose="user-center"))
        await stub.RevealKeys(pb.RevealKeysRequest(
            order_id="o-1", actor="support:carol", purpose="dispute", key_ids=[held.keys[0].key_id]
        ))
        rotated = bootstrap.keyring(Settings(
            master_keys=json.dumps({DEV_MASTER_KEY_ID: base64.b64encode(DEV_MASTER_KEYS[0]).decode(),
                                    "prod-2": base64.b64encode(os.urandom(32)).decode()}),
            active_master_key_id="prod-2", fingerprint_master_key_id=DEV_MASTER_KEY_ID,
        ))
        assert await rotate_master_key(PgInventoryUnitOfWork(store, pool=pool), rotated) == 3

        # After the reservation: deliveries, a redemption heard first, and refunds (one releasing keys, one
        # recycling revealed ones, one recycling a delivered one, one refused for a redeemed key), as
        # fulfillment and orders report them; then the redemption the recycling refund raced, twice.
        def keys_of(order_id: str) -> Awaitable[list[Any]]:
            return _keys_of(pool, order_id)

        two, three = await keys_of("o-2"), await keys_of("o-3")
        async with pool.connection() as conn, conn.transaction():
            await fulfillment_handler(store).apply(conn, [
                redeemed("o-2", two[0]), delivered("o-2", two), delivered("o-3", three),
            ])
        async with pool.connection() as conn, conn.transaction():
            await order_paid_handler(store).apply(conn, [
                refund_requested("o-2", steam, 1, redeemed=1),
                refund_requested("o-multi", steam, 2, released=2),
                refund_requested("late-0", steam, 2, released=2),
                refund_requested("o-3", steam, 1, voided=1),
            ])
        async with pool.connection() as conn, conn.transaction():
            await fulfillment_handler(store).apply(conn, [redeemed("o-3", three[0]), redeemed("o-3", three[0])])
        assert await count(pool, "SELECT count(*) FROM refund_settlements") == 4
        assert await count(pool, "SELECT count(*) FROM keys WHERE state = 'recycled'") == 3
        assert await count(pool, "SELECT count(*) FROM refunded_keys WHERE redemption_event_id IS NOT NULL") == 1

        assert await count(pool, "SELECT count(*) FROM events WHERE event_type LIKE '%%StockLowCleared'") == 1
        assert await count(pool, "SELECT low_stock_threshold FROM sku_stock WHERE sku_id = %s", (steam,)) == 4
        # Each SKU's days sum to its available keys now.
        assert await count(
            pool, "SELECT count(*) FROM sku_stock s WHERE available <> (SELECT coalesce(sum(imported - reserved"
            " + released - expired - voided + moved), 0) FROM stock_daily d WHERE d.sku_id = s.sku_id)"
        ) == 0
        assert await count(pool, "SELECT count(*) FROM allocations WHERE outcome = 'short'") == 3
        comparisons = await assert_replay_matches_live(database_url, "inventory", kafka_bootstrap=broker.bootstrap)
        # One event at a time gives the same tables as 5,000 at once.
        spec = ServiceProjections.of("inventory")
        one_by_one = await verify(database_url, await rebuild(database_url, spec, batch_size=1))
        await drop_shadow(database_url, spec)
        assert one_by_one.equal, one_by_one.describe()
        assert digest_of(one_by_one) == digest_of(comparisons[0])
    finally:
        await producer.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    tables = {t.table: t.live_rows for t in comparisons[0].tables}
    assert tables["products"] == 1 and tables["skus"] == 3 and tables["sku_stock"] == 3
    assert tables["keys"] == 12 + 4 + 3 and tables["key_batches"] == 3 and tables["key_reveals"] == 3 + 1 + 1
    assert "pool_stock" in tables and tables["pool_operations"] > 0 and "bundle_components" in tables
    assert "refund_settlements" in tables and "key_file_imports" in tables and "bundle_entitlements" in tables
    assert tables["stock_daily"] == 2 and tables["refunded_keys"] == 2 + 2 + 1
    assert [len(c.tables) for c in comparisons] == [16, 16]


async def _keys_of(pool: AsyncConnectionPool, order_id: str) -> list[Any]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT key_id FROM keys WHERE order_id = %s ORDER BY unit_no", (order_id,))
        return [r["key_id"] for r in await cur.fetchall()]


async def _decided(pool: AsyncConnectionPool, order_ids: set[str]) -> bool:
    return await count(pool, "SELECT count(*) FROM allocations WHERE order_id = ANY(%s)", (list(order_ids),)) == len(
        order_ids
    )


async def test_a_swap_while_orders_are_allocated_loses_and_repeats_nothing(
    database_url: str, pool: AsyncConnectionPool, uow: Any, stock_sku: Any
) -> None:

    sku = await stock_sku([f"SW-{i:04d}" for i in range(3_000)], threshold=5)
    stop = asyncio.Event()
    paid = 0

    async def buyers(prefix: str) -> None:
        nonlocal paid
        n = 0
        while not stop.is_set():
            batch = [(PaidOrder(f"{prefix}-{n + i}", "b", "", "web", (OrderLine(1, sku, 1),)), Context())
                     for i in range(3)]
            await allocate_paid_orders(uow(), batch)
            n += 3
            paid += 3
            await asyncio.sleep(0)  # a steady stream without gaps: the swap must still get its locks

    spec = ServiceProjections.of("inventory")
    writers = [asyncio.create_task(buyers(f"w{k}")) for k in range(3)]
    try:
        await eventually(lambda: _at_least(paid, 60))
        rebuilt = await rebuild(database_url, spec, batch_size=100)
        swapped = await swap(database_url, rebuilt)
        after_swap = paid
        await eventually(lambda: _at_least(paid, after_swap + 30))
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert swapped.equal, swapped.describe()
    assert await count(pool, "SELECT count(*) FROM allocations") == paid
    assert await count(pool, "SELECT count(*) FROM keys WHERE state = 'reserved'") == paid
    assert await count(pool, "SELECT reserved FROM sku_stock WHERE sku_id = %s", (sku,)) == paid
    final = await verify(database_url, await rebuild(database_url, spec))
    await drop_shadow(database_url, spec)
    assert final.equal, final.describe()


async def _at_least(value: int, target: int) -> bool:
    return value >= target
