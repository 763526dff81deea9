"""Table `stock_daily` (projection `stock`) on real Postgres: its rows equal the fold of the events per (SKU, UTC day),
whatever the batches and the order of unrelated events; a threshold set through the API reaches the
stock row and its history through GetStockHistory."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest
from google.protobuf.message import Message
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.inventory.v1 import events_pb2 as ev
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_inventory.projections.stock import StockProjection
from quanyi_inventory.projections.stock_daily import COLUMNS, day_changes
from quanyi_platform.projection import StoredEvent

from .test_replay import cny

START = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)


def stored(payload: Message, at: datetime) -> StoredEvent:
    envelope = envelope_pb2.Envelope(
        type=payload.DESCRIPTOR.full_name, aggregate_id="x", aggregate_version=1, producer="inventory"
    )
    return StoredEvent(envelope, payload, at)


def held(sku: str, n: int) -> list[ev.HeldKey]:
    return [ev.HeldKey(key_id=f"{sku}-{i}", sku_id=sku, pool_id=f"{sku}-pool") for i in range(n)]


def history() -> list[StoredEvent]:
    """Three days of two SKUs: imports, reservations, expiries, a void and its restore, a move between
    them, a refund that releases keys and recycles others; one event a few minutes before midnight UTC
    (the next day in Beijing), to show the day is UTC's."""
    events: list[StoredEvent] = []
    for n, sku in enumerate(("a", "b")):
        at = START + timedelta(minutes=n)
        events.append(stored(ev.KeysImported(batch_id=f"batch-{sku}", pool_id=f"{sku}-pool", sku_id=sku,
                                             imported=20), at))
        for i in range(3):
            reserved = [ev.ReservedKey(key_id=f"{sku}-r{i}", sku_id=sku, pool_id=f"{sku}-pool")]
            events.append(stored(ev.KeyReserved(order_id=f"{sku}-o{i}", keys=reserved),
                                 at + timedelta(hours=i * 12)))
    day2 = START + timedelta(days=1)
    events += [
        stored(ev.KeysExpired(keys=[ev.ExpiredKey(key_id="a-x", sku_id="a", pool_id="a-pool")]), day2),
        stored(ev.BatchVoided(batch_id="batch-b", pool_id="b-pool", sku_id="b", keys=5), day2),
        stored(ev.BatchRestored(batch_id="batch-b", pool_id="b-pool", sku_id="b", keys=5),
               day2 + timedelta(days=1)),
        stored(ev.KeysMoved(batch_id="batch-a", from_pool_id="a-pool", from_sku_id="a", to_pool_id="b-pool",
                            to_sku_id="b", keys=4), day2 + timedelta(hours=3)),
        stored(ev.RefundKeysSettled(order_id="a-o1", refund_id="r", released=held("a", 2),
                                    voided=held("a", 1)), day2 + timedelta(days=1)),
        stored(ev.KeysImported(batch_id="noise", pool_id="b-pool", sku_id="b", imported=0), day2),
    ]
    return events


async def rows(pool: AsyncConnectionPool) -> dict[tuple[str, date], tuple[int, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT sku_id, day, {', '.join(COLUMNS)} FROM stock_daily")
        return {(r["sku_id"], r["day"]): tuple(int(r[c]) for c in COLUMNS) for r in await cur.fetchall()}


async def project(pool: AsyncConnectionPool, batches: list[list[StoredEvent]]) -> None:
    # Projection `stock` writes the day rows (with no SKU rows to update here, only those).
    projection = StockProjection()
    for batch in batches:
        async with pool.connection() as conn, conn.transaction():
            await projection.apply(conn, batch)


async def test_the_rows_equal_the_fold_per_utc_day_in_one_batch_one_by_one_or_shuffled(
    pool: AsyncConnectionPool,
) -> None:
    events = history()
    folded = {k: tuple(getattr(c, n) for n in COLUMNS) for k, c in day_changes(events).items()}
    assert folded[("a", date(2026, 11, 28))] == (20, 1, 0, 0, 0, 0)
    assert folded[("b", date(2026, 11, 30))] == (0, 0, 0, 0, -5, 4)
    assert sum(c.change for (s, _), c in day_changes(events).items() if s == "a") == 20 - 3 - 1 - 4 + 2

    await project(pool, [events])
    assert await rows(pool) == folded
    for split in (lambda e: [[x] for x in e], lambda e: [e[:5], e[5:9], e[9:]]):
        async with pool.connection() as conn:
            await conn.execute("TRUNCATE stock_daily")
        shuffled = random.Random(11).sample(events, len(events))
        await project(pool, split(shuffled))
        assert await rows(pool) == folded


async def test_a_threshold_and_the_history_through_the_api(
    pool: AsyncConnectionPool, stub: pb_grpc.InventoryServiceStub
) -> None:
    product = await stub.CreateProduct(pb.CreateProductRequest(name="Cards", kind=""))
    sku = (await stub.CreateSku(pb.CreateSkuRequest(
        product_id=product.product_id, name="Steam 50", price=cny(5_000), low_stock_threshold=1
    ))).sku
    key_pool = await stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku_id, name="main"))
    await stub.ImportKeys(pb.ImportKeysRequest(
        pool_id=key_pool.pool_id, csv=b"code\nK1\nK2\nK3\n", unit_cost=cny(3_000), actor="admin:alice"
    ))
    set_ = await stub.SetLowStockThreshold(pb.SetLowStockThresholdRequest(sku_id=sku.sku_id,
                                                                           low_stock_threshold=7))
    assert set_.sku.low_stock_threshold == 7
    assert (await stub.GetSku(pb.GetSkuRequest(sku_id=sku.sku_id))).sku.low_stock_threshold == 7
    for bad, code in [(pb.SetLowStockThresholdRequest(sku_id=sku.sku_id, low_stock_threshold=-1),
                       grpc.StatusCode.INVALID_ARGUMENT),
                      (pb.SetLowStockThresholdRequest(sku_id="nope", low_stock_threshold=1),
                       grpc.StatusCode.NOT_FOUND)]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SetLowStockThreshold(bad)
        assert refused.value.code() == code

    today = datetime.now(UTC).date()
    reply = await stub.GetStockHistory(pb.GetStockHistoryRequest(
        sku_id=sku.sku_id, from_day=(today - timedelta(days=6)).isoformat(), to_day=today.isoformat()
    ))
    assert [d.day for d in reply.days] == [(today - timedelta(days=6 - n)).isoformat() for n in range(7)]
    assert [d.available for d in reply.days] == [0] * 6 + [3]
    assert reply.days[-1].imported == 3
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetStockHistory(pb.GetStockHistoryRequest(sku_id=sku.sku_id, from_day="x", to_day="y"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
