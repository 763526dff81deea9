"""GetSku's count of available keys: cheap on the order path, at most a second old."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory.application.catalogue import AvailableCounts, get_sku
from quanyi_inventory.entrypoints.consumers import handlers
from quanyi_platform.eventstore import EventStore


async def test_the_available_count_is_reused_until_it_is_older_than_its_ttl(
    pool: AsyncConnectionPool, store: EventStore, stock_sku: Any, paid: Any
) -> None:
    sku_id = await stock_sku(["S-1", "S-2", "S-3"])
    now = [100.0]
    counts = AvailableCounts(ttl_s=1.0, clock=lambda: now[0])
    async with pool.connection() as conn:
        assert (await get_sku(conn, sku_id, counts)).available == 3
    async with pool.connection() as conn, conn.transaction():
        await handlers(store)[orders_events.OrderPaid.DESCRIPTOR.full_name](conn, paid("o-1", [(sku_id, 2)]))

    async with pool.connection() as conn:
        now[0] += 0.5
        assert (await get_sku(conn, sku_id, counts)).available == 3
        now[0] += 0.6
        assert (await get_sku(conn, sku_id, counts)).available == 1
        counts.forget(sku_id)
        assert (await get_sku(conn, sku_id, counts)).available == 1
