"""Inventory benchmark: key import over gRPC and key claims for paid orders, on real Postgres.

Runs in this process against a freshly created database (dropped at the end, also on error), with the
real inventory gRPC server (`bootstrap.grpc_server` + `InventoryServicer`) and the real OrderPaid
batch handler of the inventory consumer. No broker is involved: events are handed to the handler directly,
in batches of the size given, each batch in its own transaction, as the inbox consumer does. It measures
and prints:

  (a) import      ImportKeys of a CSV of N new keys (parse, fingerprint, seal, store) through gRPC
  (b) re-import   the same N keys again: every row is a duplicate, nothing is stored
  (c) sequential  M OrderPaid of one unit, one after another, each in its own transaction (batch of one)
  (d) batched     M OrderPaid of one unit in batches of B, one transaction per batch
  (e) concurrent  200 OrderPaid of one unit racing for 100 keys, each in its own connection and
                  transaction; checks that exactly 100 keys are reserved, to 100 distinct orders

    .venv/bin/python -m bench.inventory --keys 100000 --orders 500 --batch 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2, money_pb2
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.config import Settings
from quanyi_inventory.entrypoints.consumers import order_paid_handler
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_platform import db, rpc
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import new_event_id
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres

SCHEMA = "inventory"
ORDER_PAID = orders_events.OrderPaid.DESCRIPTOR.full_name
KEY_RESERVED = "quanyi.inventory.v1.KeyReserved"
STOCK_SHORT = "quanyi.inventory.v1.StockShort"
RACE_ORDERS = 200
RACE_KEYS = 100
# Phase (c) claims from a SKU holding this many times the keys it needs, so it never runs dry.
SEQUENTIAL_STOCK_FACTOR = 4
GRPC_DEFAULT_MESSAGE_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Phase:
    """One measured phase: `count` operations of `unit` in `seconds`."""

    name: str
    count: int
    unit: str
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


def progress(message: str) -> None:
    print(message, flush=True)


def key_csv(prefix: str, n: int) -> bytes:
    """A key file of `n` distinct codes with passwords (about 52 bytes a row)."""
    return ("code,password\n" + "".join(
        f"{prefix}-{i:08d}-XXXXXXXXXXXXXXXXXXXXXXXX,PW{i:08d}\n" for i in range(n)
    )).encode()


def order_paid(order_id: str, sku_id: str) -> ReceivedEvent:
    """An OrderPaid for one unit of `sku_id`, as the inbox consumer would hand it to the handler."""
    payload = orders_events.OrderPaid(
        order_id=order_id,
        buyer_id=f"buyer-{order_id}",
        channel="web",
        buyer_email="buyer@example.com",
        lines=[orders_events.OrderLine(line_no=1, sku_id=sku_id, quantity=1)],
    )
    envelope = envelope_pb2.Envelope(
        event_id=new_event_id(),
        type=ORDER_PAID,
        aggregate_type="Order",
        aggregate_id=order_id,
        aggregate_version=3,
        correlation_id=order_id,
        producer="orders",
        payload=payload.SerializeToString(),
    )
    return ReceivedEvent(envelope, payload, "quanyi.orders.v1", 0, 0)


class Inventory:
    """The inventory service's parts, started in this process: pool, event store, gRPC server and stub."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool, stub: pb_grpc.InventoryServiceStub) -> None:
        self.settings = settings
        self.pool = pool
        self.stub = stub
        self.handler = order_paid_handler(bootstrap.event_store())

    async def new_pool(self, name: str, low_stock_threshold: int = 0) -> tuple[str, str]:
        """A product, SKU and key pool created over gRPC; returns (sku_id, pool_id)."""
        product = await self.stub.CreateProduct(pb.CreateProductRequest(name=name, kind="card_key"))
        sku = await self.stub.CreateSku(pb.CreateSkuRequest(
            product_id=product.product_id, name=name, price=money_pb2.Money(minor_units=1000, currency="CNY"),
            low_stock_threshold=low_stock_threshold,
        ))
        key_pool = await self.stub.CreatePool(pb.CreatePoolRequest(sku_id=sku.sku.sku_id, name=name))
        return str(sku.sku.sku_id), str(key_pool.pool_id)

    async def import_keys(self, pool_id: str, csv: bytes, timeout: float) -> pb.ImportKeysResponse:
        response: pb.ImportKeysResponse = await self.stub.ImportKeys(pb.ImportKeysRequest(
            pool_id=pool_id, csv=csv, actor="bench", unit_cost=money_pb2.Money(minor_units=500, currency="CNY"),
        ), timeout=timeout)
        return response

    async def pay(self, order_id: str, sku_id: str) -> None:
        await self.pay_batch([order_id], sku_id)

    async def pay_batch(self, order_ids: Sequence[str], sku_id: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await self.handler.apply(conn, [order_paid(order_id, sku_id) for order_id in order_ids])

    async def reserved_keys(self, sku_id: str) -> tuple[int, int]:
        """(keys reserved, distinct orders holding them) of `sku_id`."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n, count(DISTINCT order_id) AS orders FROM keys"
                " WHERE sku_id = %s AND state = 'reserved'", (sku_id,))
            row: Any = await cur.fetchone()  # the pool's connections return dict rows
            return int(row["n"]), int(row["orders"])

    async def outcomes(self, order_ids: Sequence[str]) -> dict[str, int]:
        """How many of `order_ids` got each allocation event type."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_type, count(*) AS n FROM events WHERE aggregate_id = ANY(%s) GROUP BY event_type",
                (list(order_ids),))
            rows: list[Any] = await cur.fetchall()  # the pool's connections return dict rows
            return {str(r["event_type"]): int(r["n"]) for r in rows}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"check failed: {message}")


async def bench_import(inv: Inventory, keys: int) -> list[Phase]:
    sku_id, pool_id = await inv.new_pool("Bench bulk")
    csv = key_csv("BULK", keys)
    timeout = max(120.0, keys / 500)
    progress(f"(a) import: {keys} keys, {len(csv) / 1024 / 1024:.1f} MB CSV "
             f"({'over' if len(csv) > GRPC_DEFAULT_MESSAGE_LIMIT else 'under'} gRPC's default 4 MB limit) ...")
    started = time.perf_counter()
    first = await inv.import_keys(pool_id, csv, timeout)
    imported = Phase("import", keys, "keys", time.perf_counter() - started)
    check((first.imported, first.duplicates, len(first.rejected)) == (keys, 0, 0),
          f"import: imported={first.imported} duplicates={first.duplicates} rejected={len(first.rejected)}")
    progress(f"    {imported.seconds:.2f} s, {imported.rate:,.0f} keys/s")

    progress(f"(b) re-import: the same {keys} keys (all duplicates) ...")
    started = time.perf_counter()
    again = await inv.import_keys(pool_id, csv, timeout)
    reimported = Phase("re-import (all duplicates)", keys, "keys", time.perf_counter() - started)
    check((again.imported, again.duplicates, len(again.rejected)) == (0, keys, 0),
          f"re-import: imported={again.imported} duplicates={again.duplicates} rejected={len(again.rejected)}")
    available = (await inv.stub.GetSku(pb.GetSkuRequest(sku_id=sku_id))).sku.available
    check(available == keys, f"available after re-import: {available}, expected {keys}")
    progress(f"    {reimported.seconds:.2f} s, {reimported.rate:,.0f} keys/s; available = {available}")
    return [imported, reimported]


async def bench_sequential(inv: Inventory, orders: int) -> Phase:
    sku_id, pool_id = await inv.new_pool("Bench sequential")
    await inv.import_keys(pool_id, key_csv("SEQ", orders * SEQUENTIAL_STOCK_FACTOR), 120)
    progress(f"(c) sequential: {orders} OrderPaid, one transaction (batch) each "
             f"(SKU holds {orders * SEQUENTIAL_STOCK_FACTOR} keys) ...")
    started = time.perf_counter()
    for i in range(orders):
        await inv.pay(f"bench-seq-{i:06d}", sku_id)
    phase = Phase("sequential claims", orders, "orders", time.perf_counter() - started)
    reserved, holders = await inv.reserved_keys(sku_id)
    check((reserved, holders) == (orders, orders), f"sequential: {reserved} keys reserved to {holders} orders")
    progress(f"    {phase.seconds:.2f} s, {phase.rate:,.0f} orders/s; {reserved} keys reserved")
    return phase


async def bench_batched(inv: Inventory, orders: int, batch: int) -> Phase:
    sku_id, pool_id = await inv.new_pool("Bench batched")
    await inv.import_keys(pool_id, key_csv("BAT", orders * SEQUENTIAL_STOCK_FACTOR), 120)
    progress(f"(d) batched: {orders} OrderPaid in batches of {batch}, one transaction per batch ...")
    order_ids = [f"bench-batch-{i:06d}" for i in range(orders)]
    started = time.perf_counter()
    for i in range(0, orders, batch):
        await inv.pay_batch(order_ids[i : i + batch], sku_id)
    phase = Phase(f"batched claims ({batch} a batch)", orders, "orders", time.perf_counter() - started)
    reserved, holders = await inv.reserved_keys(sku_id)
    check((reserved, holders) == (orders, orders), f"batched: {reserved} keys reserved to {holders} orders")
    progress(f"    {phase.seconds:.2f} s, {phase.rate:,.0f} orders/s; {reserved} keys reserved")
    return phase


async def bench_concurrent(inv: Inventory) -> Phase:
    sku_id, pool_id = await inv.new_pool("Bench race", low_stock_threshold=10)
    await inv.import_keys(pool_id, key_csv("RACE", RACE_KEYS), 120)
    order_ids = [f"bench-race-{i:03d}" for i in range(RACE_ORDERS)]
    progress(f"(e) concurrent: {RACE_ORDERS} OrderPaid racing for {RACE_KEYS} keys "
             f"(pool of {inv.pool.max_size} connections) ...")
    started = time.perf_counter()
    await asyncio.gather(*(inv.pay(order_id, sku_id) for order_id in order_ids))
    phase = Phase(f"concurrent claims ({RACE_KEYS} keys)", RACE_ORDERS, "orders", time.perf_counter() - started)
    reserved, holders = await inv.reserved_keys(sku_id)
    outcomes = await inv.outcomes(order_ids)
    check((reserved, holders) == (RACE_KEYS, RACE_KEYS),
          f"concurrent: {reserved} keys reserved to {holders} orders, expected {RACE_KEYS}")
    check((outcomes.get(KEY_RESERVED, 0), outcomes.get(STOCK_SHORT, 0)) == (RACE_KEYS, RACE_ORDERS - RACE_KEYS),
          f"concurrent: outcomes {outcomes}")
    progress(f"    {phase.seconds:.2f} s, {phase.rate:,.0f} orders/s; exactly {reserved} keys reserved "
             f"to {holders} orders, {outcomes.get(STOCK_SHORT, 0)} orders short")
    return phase


async def run(settings: Settings, keys: int, orders: int, batch: int) -> list[Phase]:
    progress("setup: migrating the inventory schema and starting the gRPC server ...")
    await db.migrate(settings.database_url, SCHEMA, ["quanyi_inventory.migrations"])
    pool = await db.create_pool(settings.database_url, SCHEMA, min_size=1, max_size=60)
    server = bootstrap.grpc_server(settings)
    store = bootstrap.event_store()
    pb_grpc.add_InventoryServiceServicer_to_server(
        InventoryServicer(lambda: PgInventoryUnitOfWork(store, pool=pool), bootstrap.keyring(settings),
                          import_max_rows=settings.inventory_import_max_rows),
        server,
    )
    port = server.add_insecure_port(settings.inventory_grpc_listen)
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}", deadline_s=120)
    try:
        inv = Inventory(settings, pool, pb_grpc.InventoryServiceStub(channel))
        phases = await bench_import(inv, keys)
        phases.append(await bench_sequential(inv, orders))
        phases.append(await bench_batched(inv, orders, batch))
        phases.append(await bench_concurrent(inv))
        return phases
    finally:
        await server.stop(None)
        await channel.close()
        await pool.close()


def print_summary(phases: Sequence[Phase]) -> None:
    rows = [("phase", "count", "seconds", "per second")] + [
        (p.name, f"{p.count:,} {p.unit}", f"{p.seconds:.2f}", f"{p.rate:,.0f} {p.unit}/s") for p in phases
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
              strict=True))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=100_000, help="keys to import in phases (a) and (b)")
    ap.add_argument("--orders", type=int, default=500, help="OrderPaid in phases (c) and (d)")
    ap.add_argument("--batch", type=int, default=100, help="OrderPaid per batch in phase (d)")
    args = ap.parse_args()
    max_rows = Settings().inventory_import_max_rows
    if not 1 <= args.keys <= max_rows:
        ap.error(f"--keys must be between 1 and {max_rows} (inventory's import limit)")
    if not 1 <= args.orders <= max_rows // SEQUENTIAL_STOCK_FACTOR:
        ap.error(f"--orders must be between 1 and {max_rows // SEQUENTIAL_STOCK_FACTOR}")

    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-inventory-"))
    os.chmod(work, 0o711)  # an embedded server runs as an unprivileged user that must reach work/pg
    embedded = None
    try:
        admin_url, embedded = ensure_postgres(os.environ.get("QUANYI_DATABASE_URL") or
                                              "postgresql://postgres@127.0.0.1:5432/postgres", work / "pg")
        name = f"quanyi_bench_inventory_{uuid.uuid4().hex[:8]}"
        create_database(admin_url, name)
        progress(f"database {name}")
        try:
            settings = Settings(database_url=database_url_for(admin_url, name), inventory_grpc_listen="127.0.0.1:0")
            phases = asyncio.run(run(settings, args.keys, args.orders, args.batch))
        finally:
            drop_database(admin_url, name)
        print_summary(phases)
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
