"""Ledger benchmark: postings per second from events, and the time to verify a chain of 1,000,000 entries.

It makes a fresh database with the ledger's schema and feeds the ledger's InboxConsumer batches of Kafka
records as the orders and fulfillment services publish them (PaymentCaptured, OrderPaid with its lines,
KeyDelivered: three entries an order), each batch one transaction through the consumer's real path:
decode, inbox claim, the posting rules, one append of entries and lines to the hash-chained journal, one
EntriesPosted, the balances projection. `postings_per_s` counts journal entries per second of that work.
It goes on posting until the journal holds `--verify-entries` entries (1,000,000 by default), then times
`verify_journal`: every entry's hash recomputed and linked, every entry balanced, the events' end, and the
balances read model against the journal's sums. Prints its figures and ends with one JSON object:
`postings_per_s`, `verify_1m_s` (scaled to 1,000,000 entries when fewer were verified), and the details.

    .venv/bin/python -m bench.ledger [--verify-entries 1000000] [--batch 1000] [--rate-entries 60000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import ConsumerRecord
from quanyi.common.v1.money_pb2 import Money
from quanyi.fulfillment.v1 import events_pb2 as ff
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.bootstrap import settle_heap
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_ledger.projections import PROJECTIONS
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.envelope import Envelope, type_name
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHANNELS = ("storefront", "app", "tmall")


def backend_cpu_s(admin_url: str, name: str) -> float:
    """CPU time (s) of the database's Postgres backends so far, from /proc (the server is local): a figure
    that does not depend on how busy the machine is. 0 when the backends cannot be read."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    total = 0.0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
    return total


class StatementCounter:
    """Counts the statements the process sends (each execute, each COPY, and each transaction's BEGIN and
    COMMIT), by wrapping psycopg's async cursor while it is on."""

    def __init__(self) -> None:
        self.statements = 0
        self._on = False
        counter = self
        execute, copy = psycopg.AsyncCursor.execute, psycopg.AsyncCursor.copy

        async def counted_execute(cur: Any, *args: Any, **kwargs: Any) -> Any:
            counter.statements += counter._on
            return await execute(cur, *args, **kwargs)

        def counted_copy(cur: Any, *args: Any, **kwargs: Any) -> Any:
            counter.statements += counter._on
            return copy(cur, *args, **kwargs)

        psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign,assignment]
        psycopg.AsyncCursor.copy = counted_copy  # type: ignore[method-assign,assignment]

    def on(self, on: bool) -> None:
        self._on = on




def _cny(minor: int) -> Money:
    return Money(minor_units=minor, currency="CNY")


def _record(payload: object, order_id: str, n: int, at: datetime, topic: str) -> ConsumerRecord[bytes, bytes]:
    env = Envelope(
        event_id=str(uuid.UUID(int=n + 1)),
        type=type_name(payload),
        aggregate_type="Order",
        aggregate_id=order_id,
        aggregate_version=1,
        correlation_id=order_id,
        producer=topic.split(".")[1],
        payload=payload.SerializeToString(),  # type: ignore[attr-defined]
    )
    env.occurred_at.FromDatetime(at)
    value = env.SerializeToString()
    headers = [("type", env.type.encode())]
    return ConsumerRecord(topic, 0, n, 0, 0, None, value, None, 0, len(value), headers)


def order_records(k: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Order k's three facts: a payment, the sale (two SKU lines), the delivery of its keys."""
    order_id = f"o-{k}"
    at = T0 + timedelta(milliseconds=k)
    a, b = 990 + k % 7 * 100, 500
    lines = [
        orders.OrderLine(line_no=1, sku_id=f"sku-{k % 40}", quantity=1, unit_price=_cny(a)),
        orders.OrderLine(line_no=2, sku_id=f"sku-{(k + 1) % 40}", quantity=1, unit_price=_cny(b)),
    ]
    channel = CHANNELS[k % len(CHANNELS)]
    keys = [
        ff.DeliveredKey(key_id=f"k-{k}-1", sku_id=lines[0].sku_id, unit_cost=_cny(a // 2), line_no=1, unit_no=1),
        ff.DeliveredKey(key_id=f"k-{k}-2", sku_id=lines[1].sku_id, unit_cost=_cny(b // 2), line_no=2, unit_no=1),
    ]
    o, f = topic_for("orders"), topic_for("fulfillment")
    return [
        _record(orders.PaymentCaptured(order_id=order_id, provider="wechatpay", provider_txn_id=f"T{k}",
                                       amount=_cny(a + b)), order_id, 3 * k, at, o),
        _record(orders.OrderPaid(order_id=order_id, channel=channel, lines=lines, total=_cny(a + b)),
                order_id, 3 * k + 1, at, o),
        _record(ff.KeyDelivered(order_id=order_id, buyer_id="b", keys=keys, channels=["email"],
                                sales_channel=channel), order_id, 3 * k + 2, at, f),
    ]


async def main(verify_entries: int, batch: int, rate_entries: int) -> dict[str, object]:
    admin_url, embedded = ensure_postgres(
        os.environ.get("QUANYI_BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        Path(".data") / "bench-postgres",
    )
    name = f"quanyi_bench_ledger_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    url = database_url_for(admin_url, name)
    try:
        await db.migrate(url, "ledger", ["quanyi_ledger.migrations"])
        pool = await db.create_pool(url, "ledger", 1, 2)
        store = EventStore("ledger", projections=PROJECTIONS)
        consumer = InboxConsumer(
            "ledger",
            [topic_for("orders"), topic_for("fulfillment")],
            batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn)),
            pool,
            PlatformSettings(database_url=url),
        )
        settle_heap()  # as the service does once it has started
        posted = 0
        k = 0
        busy = 0.0
        cpu = 0.0
        batches = 0
        rate: tuple[int, float] | None = None
        counter = StatementCounter()
        load_before = os.getloadavg()
        server_before = backend_cpu_s(admin_url, name)
        started = time.perf_counter()
        try:
            with Progress(TextColumn("posting"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[rate]:>8,.0f} entries/s"), TimeRemainingColumn()) as bar:
                task = bar.add_task("entries", total=verify_entries, rate=0.0)

                def next_records() -> list[ConsumerRecord[bytes, bytes]]:
                    nonlocal k
                    records: list[ConsumerRecord[bytes, bytes]] = []
                    while len(records) < batch and 3 * k < verify_entries:
                        records.extend(order_records(k))
                        k += 1
                    return records

                # As the consumer's loop runs: batch N+1 is decoded (and its facts made) while batch N's
                # transaction runs, so the client's work and Postgres' overlap.
                records = next_records()
                counter.on(True)
                t, c = time.perf_counter(), time.process_time()
                decoded = await consumer.decode(records)
                busy += time.perf_counter() - t
                cpu += time.process_time() - c
                while decoded.events:
                    records = next_records()
                    t, c = time.perf_counter(), time.process_time()
                    applying = asyncio.create_task(consumer.apply_decoded(decoded))
                    await asyncio.sleep(0)  # its first statement goes out before the next batch is decoded
                    decoded = await consumer.decode(records)
                    posted += await applying
                    busy += time.perf_counter() - t
                    cpu += time.process_time() - c
                    batches += 1
                    if rate is None and posted >= rate_entries:
                        rate = (posted, busy)
                        server_at_rate = backend_cpu_s(admin_url, name) - server_before
                    bar.update(task, completed=posted, rate=posted / busy)
                counter.on(False)
            server_cpu = backend_cpu_s(admin_url, name) - server_before
            if rate is None:
                rate = (posted, busy)
                server_at_rate = server_cpu
            load_after = os.getloadavg()
            fill_s = time.perf_counter() - started
            postings_per_s = rate[0] / rate[1]
            # Each batch is one transaction: its BEGIN and COMMIT come on top of the counted statements.
            statements_per_batch = counter.statements / max(batches, 1) + 2
            print(f"posted {posted:,} entries ({k:,} orders, batches of {batch} records) in {fill_s:.1f} s;"
                  f" {postings_per_s:,.0f} entries/s over the first {rate[0]:,} (the consumer's apply),"
                  f" {posted / busy:,.0f} entries/s over all (target >= 10,000/s); the benchmark's own CPU"
                  f" {cpu:.1f} s ({cpu / busy:.0%} of the wall time, {cpu * 1e6 / posted:.0f} µs an entry),"
                  f" the rest is Postgres and waiting for a core")
            print(f"load-independent: client CPU {cpu * 1e6 / posted:.0f} µs an entry, Postgres CPU"
                  f" {server_cpu * 1e6 / posted:.0f} µs an entry ({server_at_rate * 1e6 / rate[0]:.0f} over the"
                  f" first {rate[0]:,}), {statements_per_batch:.1f} statements a batch of {batch} records;"
                  f" load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
            server_before = backend_cpu_s(admin_url, name)
            t, c = time.perf_counter(), time.process_time()
            result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
            verify_s = time.perf_counter() - t
            verify_cpu = time.process_time() - c
            verify_server_cpu = backend_cpu_s(admin_url, name) - server_before
        finally:
            await pool.close()
        verify_1m_s = verify_s * 1_000_000 / max(result.entries, 1)
        entries = max(result.entries, 1)
        print(f"verified {result.entries:,} entries in {verify_s:.1f} s ({result.entries / verify_s:,.0f}"
              f" entries/s): {'ok' if result.ok else 'BROKEN: ' + '; '.join(result.problems[:3])};"
              f" 1,000,000 entries: {verify_1m_s:.1f} s; client CPU {verify_cpu * 1e6 / entries:.1f} µs,"
              f" Postgres CPU {verify_server_cpu * 1e6 / entries:.1f} µs an entry;"
              f" load average {os.getloadavg()[0]:.1f}")
        return {
            "benchmark": "ledger",
            "postings_per_s": round(postings_per_s, 1),
            "postings_per_s_all": round(posted / busy, 1),
            "client_cpu_us_per_entry": round(cpu * 1e6 / max(posted, 1), 1),
            "postgres_cpu_us_per_entry": round(server_cpu * 1e6 / max(posted, 1), 1),
            "statements_per_batch": round(statements_per_batch, 2),
            "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
            "verify_client_cpu_us_per_entry": round(verify_cpu * 1e6 / entries, 2),
            "verify_postgres_cpu_us_per_entry": round(verify_server_cpu * 1e6 / entries, 2),
            "verify_1m_s": round(verify_1m_s, 2),
            "verified_entries": result.entries,
            "verify_s": round(verify_s, 2),
            "verify_ok": result.ok,
            "batch_records": batch,
            "targets": {"postings_per_s": 10_000},
        }
    finally:
        drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify-entries", type=int, default=1_000_000,
                        help="entries to post and then verify (default 1,000,000)")
    parser.add_argument("--batch", type=int, default=1_000, help="records per consumer batch (default 1,000)")
    parser.add_argument("--rate-entries", type=int, default=60_000,
                        help="postings/s is measured over this many first entries (default 60,000)")
    args = parser.parse_args()
    result = asyncio.run(main(args.verify_entries, args.batch, args.rate_entries))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
