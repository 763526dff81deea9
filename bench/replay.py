"""Replay benchmark: rebuild and verify the orders service's projections from a store of 1,000,000 events.

It makes a fresh database, writes the store through the live path in bulk (the orders domain decides each
order's commands, `EventStore.append` projects inline, thousands of events a transaction), then times
`quanyi_platform.replay.rebuild` (the same projections into a shadow schema, from the event store) and
`verify` (row counts and content hashes of every table against live). Prints its figures and ends with one
JSON object: `events`, `events_per_s`, `rebuild_s`, `verify_s`, `rebuild_and_verify_s`, `equal`.

    .venv/bin/python -m bench.replay [--events 1000000] [--batch-size 5000]
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

from quanyi_orders.adapters.proto_mapping import notice_new_event, order_new_events
from quanyi_orders.domain.events import PaymentNoticeAccepted
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import (
    CapturePayment,
    Order,
    Place,
    RecordDelivery,
    RecordRiskDecision,
    RiskDecision,
    execute,
)
from quanyi_orders.projections import PROJECTIONS
from quanyi_platform import db
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres
from quanyi_platform.replay import ServiceProjections, drop_shadow, rebuild, verify
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def order_events(n: int) -> list[NewEvent]:
    """One order's whole life, as the live path records it: placed, approved, paid by a notice, delivered."""
    order_id = str(uuid.UUID(int=n + 1))
    at = T0 + timedelta(milliseconds=n)
    price = Money(990 + n % 7 * 100, "CNY")
    order: Order | None = None
    out: list[NewEvent] = []
    commands = [
        Place(order_id, f"buyer-{n % 5000}", "", "storefront", [(f"sku-{n % 40}", 1 + n % 3, price)],
              f"idem-{n}", at),
        RecordRiskDecision(RiskDecision.APPROVE),
        CapturePayment(price.times(1 + n % 3), "psp-sim", f"txn-{n}"),
        RecordDelivery(),
    ]
    for step, command in enumerate(commands):
        version = order.version if order is not None else 0
        if isinstance(command, CapturePayment):
            out.append(notice_new_event(
                PaymentNoticeAccepted("psp-sim", f"nonce-{n}", order_id, command.txn_id, f"notice-{n}")
            ))
        order, new = execute(order, command)
        out.extend(order_new_events(order_id, version, new, occurred_at=at + timedelta(seconds=step)))
    return out


async def fill(database_url: str, events: int, per_tx: int) -> int:
    store = EventStore("orders", projections=PROJECTIONS)
    pool = await db.create_pool(database_url, "orders", 1, 2)
    written = 0
    n = 0
    try:
        with Progress(TextColumn("writing the store"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn()) as bar:
            task = bar.add_task("events", total=events)
            while written < events:
                chunk: list[NewEvent] = []
                while len(chunk) < per_tx and written + len(chunk) < events:
                    chunk.extend(order_events(n))
                    n += 1
                async with pool.connection() as conn, conn.transaction():
                    await store.append(conn, chunk)
                written += len(chunk)
                bar.update(task, completed=written)
    finally:
        await pool.close()
    return written


async def main(events: int, batch_size: int, per_tx: int) -> dict[str, object]:
    admin_url, embedded = ensure_postgres(
        os.environ.get("QUANYI_BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        Path(".data") / "bench-postgres",
    )
    name = f"quanyi_bench_replay_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    url = database_url_for(admin_url, name)
    try:
        await db.migrate(url, "orders", ["quanyi_orders.migrations"])
        started = time.perf_counter()
        written = await fill(url, events, per_tx)
        fill_s = time.perf_counter() - started
        print(f"store: {written:,} events written through the live path in {fill_s:.1f} s"
              f" ({written / fill_s:,.0f} events/s, projections inline)")
        spec = ServiceProjections.of("orders")
        with Progress(TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]:>9,.0f} events/s"), TimeRemainingColumn()) as bar:
            task = bar.add_task("events", total=written, rate=0.0)
            t = time.perf_counter()

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, rate=done / max(time.perf_counter() - t, 1e-6))

            rebuilt = await rebuild(url, spec, batch_size=batch_size, progress=progress)
        t = time.perf_counter()
        comparison = await verify(url, rebuilt)
        verify_s = time.perf_counter() - t
        await drop_shadow(url, spec)
        print(comparison.describe())
        result = {
            "benchmark": "replay",
            "service": "orders",
            "events": rebuilt.events,
            "rows": sum(tb.live_rows for tb in comparison.tables),
            "events_per_s": round(rebuilt.events / rebuilt.seconds, 1),
            "rebuild_s": round(rebuilt.seconds, 2),
            "verify_s": round(verify_s, 2),
            "rebuild_and_verify_s": round(rebuilt.seconds + verify_s, 2),
            "equal": comparison.equal,
            "batch_size": batch_size,
            "targets": {"events_per_s": 20_000, "rebuild_and_verify_s": 120},
        }
        print(f"rebuilt {rebuilt.events:,} events in {rebuilt.seconds:.1f} s ({result['events_per_s']:,} events/s),"
              f" verified in {verify_s:.1f} s: {result['rebuild_and_verify_s']} s in all"
              f" (targets: >= 20,000 events/s, < 120 s)")
        return result
    finally:
        drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=5_000, help="events per replay batch")
    parser.add_argument("--per-tx", type=int, default=6_000, help="events per transaction while filling")
    args = parser.parse_args()
    result = asyncio.run(main(args.events, args.batch_size, args.per_tx))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
