"""Paging benchmark: a page of a buyer's orders and of every order, at the start and deep into 100,000.

It makes a fresh database with the orders schema and fills the `orders` read model with `--orders` rows in
one statement (half of them one buyer's, the rest spread over 1,000 buyers; the read path only reads that
table, so no events are needed), then walks the buyer's list (`application.orders.list_orders`, the
user centre's and /v1/me/orders' call) and the back office's unfiltered list (`search_orders`) page by
page through the real unit of work, and times the first pages and the deepest ones: keyset pages cost the
same wherever they are. For contrast it times the same deepest page read with OFFSET. Prints its figures
and ends with one JSON object (milliseconds of wall time and of this process's CPU per page).

    .venv/bin/python -m bench.paging [--orders 100000] [--page 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application.orders import list_orders, search_orders
from quanyi_orders.bootstrap import MIGRATIONS, NAME, event_store
from quanyi_platform import db
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres

HEAVY = "buyer-heavy"
FILL = """
INSERT INTO orders (order_id, buyer_id, channel, status, risk_decision, lines, total_minor, currency,
                    captured_txn_id, version, idempotency_key, created_at, updated_at)
SELECT format('%%s-%%s', %(tag)s::text, n),
       CASE WHEN n %% 2 = 0 THEN %(heavy)s ELSE format('buyer-%%s', n %% 1000) END,
       'web', 'FULFILLED', 'APPROVE',
       '[{"line_no": 1, "sku_id": "sku-a", "quantity": 1, "unit_price_minor": 1990}]'::jsonb, 1990, 'CNY',
       NULL, 4, format('k-%%s', n),
       -- a few orders share each second: the order id breaks the tie
       timestamptz '2026-11-01 00:00:00+00' + (n / 3) * interval '1 second',
       timestamptz '2026-11-01 00:00:00+00' + (n / 3) * interval '1 second'
FROM generate_series(1, %(n)s) AS n
"""


async def walk(
    read: Callable[[str], Awaitable[tuple[list[Any], str]]], pages: int | None = None
) -> tuple[list[float], list[float], int]:
    """Read page after page; the wall and CPU milliseconds of each, and the rows seen."""
    wall: list[float] = []
    cpu: list[float] = []
    token, rows = "", 0
    while pages is None or len(wall) < pages:
        w, c = time.perf_counter(), time.process_time()
        found, token = await read(token)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        rows += len(found)
        if not token:
            break
    return wall, cpu, rows


def summary(name: str, wall: list[float], cpu: list[float]) -> dict[str, float]:
    first, last = wall[:20], wall[-20:]
    out = {
        "pages": len(wall),
        "first_pages_ms": round(statistics.median(first), 2),
        "deepest_pages_ms": round(statistics.median(last), 2),
        "cpu_ms_per_page": round(statistics.median(cpu), 2),
    }
    print(f"{name}: {len(wall):,} pages; median {out['first_pages_ms']} ms for the first 20,"
          f" {out['deepest_pages_ms']} ms for the deepest 20; {out['cpu_ms_per_page']} ms CPU a page")
    return out


async def offset_page_ms(url: str, where: str, params: tuple[Any, ...], offset: int, size: int) -> float:
    pool = await db.create_pool(url, NAME, 1, 1)
    try:
        async with pool.connection() as conn:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                await (await conn.execute(
                    f"SELECT order_id FROM orders WHERE {where}"
                    " ORDER BY created_at DESC, order_id DESC OFFSET %s LIMIT %s", (*params, offset, size)
                )).fetchall()
                times.append((time.perf_counter() - t) * 1000)
        return round(statistics.median(times), 2)
    finally:
        await pool.close()


async def main(orders: int, page: int) -> dict[str, object]:
    admin_url, embedded = ensure_postgres(
        os.environ.get("QUANYI_BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        Path(".data") / "bench-postgres",
    )
    name = f"quanyi_bench_paging_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    url = database_url_for(admin_url, name)
    try:
        await db.migrate(url, NAME, MIGRATIONS)
        pool = await db.create_pool(url, NAME, 1, 2)
        try:
            async with pool.connection() as conn:
                await conn.execute(FILL, {"tag": "o", "heavy": HEAVY, "n": orders})
                await conn.execute("ANALYZE orders")
                await conn.commit()
            print(f"{orders:,} orders, {orders // 2:,} of them {HEAVY}'s; {page} a page")
            store = event_store()

            def uow() -> PgOrdersUnitOfWork:
                return PgOrdersUnitOfWork(store, pool=pool)

            b_wall, b_cpu, b_rows = await walk(lambda t: list_orders(uow(), HEAVY, page, t))
            assert b_rows == orders // 2, b_rows
            buyer = summary("a buyer's orders (list_orders)", b_wall, b_cpu)
            a_wall, a_cpu, a_rows = await walk(lambda t: search_orders(uow(), "", "", page, t))
            assert a_rows == orders, a_rows
            every = summary("every order (search_orders)", a_wall, a_cpu)
        finally:
            await pool.close()
        buyer["offset_deepest_page_ms"] = await offset_page_ms(
            url, "buyer_id = %s", (HEAVY,), orders // 2 - page, page
        )
        every["offset_deepest_page_ms"] = await offset_page_ms(url, "TRUE", (), orders - page, page)
        print(f"the deepest page by OFFSET instead: {buyer['offset_deepest_page_ms']} ms (buyer),"
              f" {every['offset_deepest_page_ms']} ms (every order)")
        return {"benchmark": "paging", "orders": orders, "page": page, "buyer": buyer, "every_order": every}
    finally:
        drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.orders, args.page))))
