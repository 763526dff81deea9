"""Allocation benchmark: card keys claimed per second for batches of paid orders, on real Postgres.

A fresh database holds one FEFO SKU with one pool of --keys keys (1,000,000 by default) imported in batches
of 100,000, each batch with its own expiry date (the batches' dates in no particular order, as suppliers'
files come), and --expired-pct of the keys already past it. With --scatter every key gets its own date,
uncorrelated with import order: the worst case for FEFO, each claimed key on a page of its own. The expiry sweeper runs first (its rate is
reported). Then --consumers concurrent consumers (8) each take batches of --batch OrderPaid (one unit each,
as the inbox consumer fetches them) and hand them to inventory's real OrderPaid batch handler in one
transaction per batch, until --orders orders are decided. No broker is involved: the handler gets the
batches directly, as the inbox consumer would hand them over.

The pool's keys are written straight into the record (key_material, with random bytes for ciphertexts:
allocation never decrypts) and made keys of the SKU by KeysImported events through the event store, as an
import does; `make bench-import` measures the import itself.

It checks that every order got exactly one key, no key went to two orders, none was expired or not yet
valid, and FEFO held (no reserved key expires after a key still available). It ends with one JSON object
holding `claims_per_s`.

    .venv/bin/python -m bench.allocate --keys 1000000 --orders 100000 --consumers 8 --batch 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application import catalogue
from quanyi_inventory.application.expire import sweep_all_expired
from quanyi_inventory.application.ports import Context
from quanyi_inventory.config import Settings
from quanyi_inventory.domain.money import Money
from quanyi_inventory.domain.stock import keys_imported
from quanyi_inventory.entrypoints.consumers import order_paid_handler
from quanyi_platform import db
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import new_event_id
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres

SCHEMA = "inventory"
IMPORT_BATCH = 100_000


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def order_paid(order_id: str, sku_id: str) -> ReceivedEvent:
    payload = orders_events.OrderPaid(
        order_id=order_id, buyer_id=f"buyer-{order_id}", channel="storefront",
        lines=[orders_events.OrderLine(line_no=1, sku_id=sku_id, quantity=1)],
    )
    envelope = envelope_pb2.Envelope(
        event_id=new_event_id(), type=orders_events.OrderPaid.DESCRIPTOR.full_name, aggregate_type="Order",
        aggregate_id=order_id, aggregate_version=3, correlation_id=order_id, producer="orders",
        payload=payload.SerializeToString(),
    )
    return ReceivedEvent(envelope, payload, "quanyi.orders.v1", 0, 0)


async def fill_pool(pool: AsyncConnectionPool, uow: Any, pool_id: str, sku_id: str, keys: int,
                    expired_pct: float, now: datetime, scatter: bool = False) -> None:
    """`keys` keys in batches of IMPORT_BATCH: record rows by COPY, then KeysImported per batch."""
    expired_every = round(100 / expired_pct) if expired_pct > 0 else 0
    made = 0
    while made < keys:
        n = min(IMPORT_BATCH, keys - made)
        batch_id = new_event_id()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO data_keys (batch_id, master_key_id, wrapped_data_key) VALUES (%s, 'bench', %s)",
                (batch_id, os.urandom(60)),
            )
            async with conn.cursor() as cur, cur.copy(
                "COPY key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext, expires_at)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "text", "bytea", "bytea", "bytea", "timestamptz"])
                for i in range(made, made + n):
                    # Each batch its own date, the batches' dates out of import order (FEFO must sort);
                    # with `scatter`, each key its own, unrelated to import order.
                    days = (i * 7919) % 365 + 1 if scatter else (made // IMPORT_BATCH * 7) % 10 * 30 + 1
                    expires = now - timedelta(days=1) if expired_every and i % expired_every == 0 else (
                        now + timedelta(days=days, seconds=i % 86_400 if scatter else 0))
                    await copy.write_row((batch_id, new_event_id(), sku_id, os.urandom(32), os.urandom(12),
                                          os.urandom(40), expires))
        recorded = keys_imported(
            sku_id, batch_id=batch_id, pool_id=pool_id, imported=n, duplicates=0, rejected=0,
            unit_cost=Money(500, "CNY"), actor="bench", master_key_id="bench",
        )
        async with uow() as u:
            await u.record([recorded], Context(correlation_id=batch_id))
            await u.commit()
        made += n
        progress(f"  {made:,} keys in the pool")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine (a Postgres backend, or this process)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends_cpu(pool: AsyncConnectionPool) -> tuple[float, dict[str, int]]:
    """CPU seconds of this database's backends (the benchmark's connections), and its row writes and
    transactions so far."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            # Every client backend, this one too: the pool may answer the two samples on different
            # connections, and one left out of the first only would bring all its past CPU (the fill's)
            # into the difference.
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
        )
        pids = [r["pid"] for r in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT (SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables) AS writes,"
            " xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = current_database()"
        )
        row = await cur.fetchone()
        await conn.rollback()
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass  # not on this machine, or gone
    return total, {"writes": int(row["writes"] or 0), "xacts": int(row["xacts"])}


async def consume(pool: AsyncConnectionPool, handler: Any, queue: asyncio.Queue[list[ReceivedEvent]],
                  latencies: list[float]) -> None:
    while True:
        try:
            batch = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        started = time.perf_counter()
        async with pool.connection() as conn, conn.transaction():
            await handler.apply(conn, batch)
        latencies.append(time.perf_counter() - started)


async def one(pool: AsyncConnectionPool, sql: str, *args: object) -> Any:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        row: Any = await cur.fetchone()
        return row


async def run(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    now = datetime.now(UTC)
    await db.migrate(settings.database_url, SCHEMA, ["quanyi_inventory.migrations"])
    pool = await db.create_pool(settings.database_url, SCHEMA, min_size=1, max_size=args.consumers + 4)
    store = bootstrap.event_store()

    def uow() -> PgInventoryUnitOfWork:
        return PgInventoryUnitOfWork(store, pool=pool)

    try:
        product = await catalogue.create_product(uow(), name="Bench card", kind="card_key")
        sku = await catalogue.create_sku(uow(), product_id=product.product_id, name="Bench 100",
                                         price=Money(1000, "CNY"), low_stock_threshold=0,
                                         allocation_strategy="fefo")
        key_pool = await catalogue.create_pool(uow(), sku_id=sku.sku_id, name="main")
        progress(f"setup: {args.keys:,} keys, {args.expired_pct}% of them expired ...")
        started = time.perf_counter()
        await fill_pool(pool, uow, key_pool.pool_id, sku.sku_id, args.keys, args.expired_pct, now, args.scatter)
        fill_s = time.perf_counter() - started
        async with pool.connection() as conn:
            await conn.execute("ANALYZE keys")
        started = time.perf_counter()
        swept = await sweep_all_expired(uow, clock=lambda: now)
        sweep_s = time.perf_counter() - started
        progress(f"sweeper: {swept:,} keys expired in {sweep_s:.2f} s")
        # As a pool imported some time ago would be: vacuumed (its visibility map set) and checkpointed, so
        # neither autovacuum's first pass over the freshly written table nor the writing out of the fill's
        # dirty pages (and the full-page images of the pages first touched after a checkpoint) lands in the
        # timed window.
        async with pool.connection() as conn:
            await conn.set_autocommit(True)
            await conn.execute("VACUUM ANALYZE keys")
            await conn.execute("CHECKPOINT")
            await conn.set_autocommit(False)

        order_ids = [f"bench-{n:07d}" for n in range(args.orders)]
        queue: asyncio.Queue[list[ReceivedEvent]] = asyncio.Queue()
        for i in range(0, args.orders, args.batch):
            queue.put_nowait([order_paid(o, sku.sku_id) for o in order_ids[i:i + args.batch]])
        handler = order_paid_handler(store)
        latencies: list[float] = []
        progress(f"claims: {args.orders:,} orders, {args.consumers} consumers, batches of {args.batch} ...")
        # Every consumer's connection open before the window, so its backend's CPU is counted.
        held = [await pool.getconn() for _ in range(args.consumers)]
        for conn in held:
            await pool.putconn(conn)
        pg_before, stats_before = await backends_cpu(pool)
        own_before = cpu_seconds(os.getpid())
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        await asyncio.gather(*(consume(pool, handler, queue, latencies) for _ in range(args.consumers)))
        claim_s = time.perf_counter() - started
        own_cpu = cpu_seconds(os.getpid()) - own_before
        pg_after, stats_after = await backends_cpu(pool)
        load_after = os.getloadavg()[0]

        counts = await one(pool, "SELECT count(*) AS keys, count(DISTINCT order_id) AS orders,"
                                 " max(expires_at) AS latest FROM keys WHERE state = 'reserved'")
        earliest = await one(pool, "SELECT min(expires_at) AS at FROM keys WHERE state = 'available'")
        bad = await one(pool, "SELECT count(*) AS n FROM keys WHERE state = 'reserved' AND expires_at <= %s",
                        now)
        short = await one(pool, "SELECT count(*) AS n FROM allocations WHERE outcome = 'short'")
        checks = {
            "every_order_one_key": counts["keys"] == args.orders and counts["orders"] == args.orders,
            "no_expired_key_handed_out": bad["n"] == 0,
            "fefo": earliest["at"] is None or counts["latest"] <= earliest["at"],
            "no_stock_short": short["n"] == 0,
        }
    finally:
        await pool.close()
    latencies.sort()
    return {
        "benchmark": "allocate",
        "keys": args.keys,
        "orders": args.orders,
        "claims": int(counts["keys"]),
        "consumers": args.consumers,
        "batch": args.batch,
        "strategy": "fefo",
        "expiry_dates": "per key, scattered" if args.scatter else "per import batch",
        "seconds": round(claim_s, 3),
        "claims_per_s": round(counts["keys"] / claim_s, 1),
        "batch_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "batch_p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        # Load-independent figures: CPU per claim of the consumers' process (Python: decoding, deciding,
        # building events) and of their Postgres backends, and the work Postgres did per claim.
        "client_cpu_us_per_claim": round(1e6 * own_cpu / counts["keys"], 1),
        "pg_cpu_us_per_claim": round(1e6 * (pg_after - pg_before) / counts["keys"], 1),
        "pg_row_writes_per_claim": round((stats_after["writes"] - stats_before["writes"]) / counts["keys"], 2),
        "transactions": stats_after["xacts"] - stats_before["xacts"],
        "load_average": [round(load_before, 1), round(load_after, 1)],
        "cpu_cores": os.cpu_count(),
        "pool_fill_s": round(fill_s, 1),
        "expired_swept": swept,
        "sweep_keys_per_s": round(swept / sweep_s, 1) if sweep_s > 0 and swept else 0,
        "checks": checks,
        "ok": all(checks.values()),
        "target_claims_per_s": 10_000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys in the pool")
    ap.add_argument("--orders", type=int, default=100_000, help="paid orders of one unit to allocate")
    ap.add_argument("--consumers", type=int, default=8, help="concurrent consumers")
    ap.add_argument("--batch", type=int, default=200, help="OrderPaid per batch (consumer_max_records)")
    ap.add_argument("--expired-pct", type=float, default=1.0, help="percent of the keys already expired")
    ap.add_argument("--scatter", action="store_true", help="an expiry date per key, unrelated to import order")
    args = ap.parse_args()
    if args.orders > args.keys * (1 - args.expired_pct / 100):
        ap.error("--orders must not exceed the keys that are not expired")

    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-allocate-"))
    os.chmod(work, 0o711)  # an embedded server runs as an unprivileged user that must reach work/pg
    embedded = None
    try:
        admin_url, embedded = ensure_postgres(os.environ.get("QUANYI_DATABASE_URL") or
                                              "postgresql://postgres@127.0.0.1:5432/postgres", work / "pg")
        name = f"quanyi_bench_allocate_{uuid.uuid4().hex[:8]}"
        create_database(admin_url, name)
        progress(f"database {name}")
        try:
            settings = Settings(database_url=database_url_for(admin_url, name))
            result = asyncio.run(run(settings, args))
        finally:
            drop_database(admin_url, name)
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nclaims: {result['claims']:,} in {result['seconds']:.2f} s = {result['claims_per_s']:,.0f}/s"
          f" ({args.consumers} consumers, batches of {args.batch}, FEFO, {args.keys:,}-key pool);"
          f" batch p50 {result['batch_p50_ms']} ms, p99 {result['batch_p99_ms']} ms")
    print(f"CPU per claim: {result['client_cpu_us_per_claim']} µs in this process,"
          f" {result['pg_cpu_us_per_claim']} µs in Postgres; {result['pg_row_writes_per_claim']} row writes"
          f" per claim; load average {result['load_average'][0]} -> {result['load_average'][1]}"
          f" on {result['cpu_cores']} cores")
    print(f"checks: {result['checks']}")
    print(json.dumps(result))
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
