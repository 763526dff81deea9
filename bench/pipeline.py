"""End-to-end pipeline benchmark: six service processes, orders placed and paid over HTTP.

Prints throughput of the entry path (place + pay), HTTP latencies, and paid→delivered latency measured
from the services' own event timestamps (orders' PaymentCaptured → fulfillment's KeyDelivered).

    .venv/bin/python -m bench.pipeline --orders 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
from psycopg import AsyncConnection
from quanyi_cli.stack import Stack, StackConfig
from quanyi_gateway.psp_sim import generate_keypair
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.infra.tansu import TansuBroker

from tests.integration.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PARTNER,
    PARTNER_SECRET,
    admin,
    create_sku_with_keys,
    fresh_keys,
    new_buyer,
)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def drive(stack: Stack, orders: int, concurrency: int, buyers_n: int, rate: float) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency * 2)) as http:
        adm = await admin(http)
        sku = await create_sku_with_keys(adm, fresh_keys(orders), price_minor=1990, cost_minor=1200, name="Bench")
        buyers = list(await asyncio.gather(*(new_buyer(http) for _ in range(buyers_n))))
        place_ms: list[float] = []
        pay_ms: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(orders):
            queue.put_nowait(i)
        order_ids: list[str] = []

        # The measured loop uses aiohttp: httpx costs several times more client CPU per request, and on
        # this 2-core machine the client shares the CPU with the services it measures.
        session = aiohttp.ClientSession(base_url=stack.config.gateway_url,
                                        connector=aiohttp.TCPConnector(limit=concurrency * 2))

        pace_start = time.perf_counter()

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                if rate > 0:  # open loop: order i starts at i / rate seconds, whatever the answers take
                    await asyncio.sleep(max(0.0, pace_start + i / rate - time.perf_counter()))
                buyer = buyers[i % len(buyers)]
                t0 = time.perf_counter()
                async with session.post("/v1/orders", json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}]},
                                        headers={**buyer.auth(), "Idempotency-Key": uuid.uuid4().hex}) as r:
                    if r.status != 201:
                        raise RuntimeError(f"place: {r.status} {await r.text()}")
                    order = await r.json(content_type=None)
                t1 = time.perf_counter()
                async with session.post("/psp-sim/v1/pay", json={"order_id": order["order_id"], "amount": {
                        "amount_minor": order["total"]["amount_minor"], "currency": "CNY"}}) as p:
                    paid = await p.json(content_type=None)
                    if p.status != 200 or paid.get("webhook_status") != 200:
                        raise RuntimeError(f"pay: {p.status} {paid}")
                t2 = time.perf_counter()
                place_ms.append((t1 - t0) * 1000)
                pay_ms.append((t2 - t1) * 1000)
                order_ids.append(order["order_id"])

        start = time.perf_counter()
        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            await session.close()
        entry_s = time.perf_counter() - start
        url = stack.config.database_url
        async with await AsyncConnection.connect(url) as conn:
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM orders.orders WHERE order_id = ANY(%s) AND status = 'FULFILLED'", (order_ids,))
                done = (await cur.fetchone() or [0])[0]
                if done == len(order_ids):
                    break
                if time.perf_counter() - start > entry_s + 300:
                    raise TimeoutError(f"only {done}/{len(order_ids)} fulfilled")
                await asyncio.sleep(0.2)
            total_s = time.perf_counter() - start
            cur = await conn.execute(
                "SELECT extract(epoch FROM (d.occurred_at - c.occurred_at)) * 1000"
                " FROM orders.events c JOIN fulfillment.events d ON d.aggregate_id = c.aggregate_id"
                " WHERE c.event_type = 'quanyi.orders.v1.PaymentCaptured'"
                " AND d.event_type = 'quanyi.fulfillment.v1.KeyDelivered' AND c.aggregate_id = ANY(%s)",
                (order_ids,))
            latencies = [float(r[0]) for r in await cur.fetchall()]
            stages = {}
            for label, (schema_a, type_a), (schema_b, type_b) in (
                ("stage_captured_to_risk_decided_ms", ("orders", "orders.v1.PaymentCaptured"), ("risk", "risk.v1.RiskDecided")),
                ("stage_captured_to_paid_ms", ("orders", "orders.v1.PaymentCaptured"), ("orders", "orders.v1.OrderPaid")),
                ("stage_paid_to_reserved_ms", ("orders", "orders.v1.OrderPaid"), ("inventory", "inventory.v1.KeyReserved")),
                ("stage_reserved_to_delivered_ms", ("inventory", "inventory.v1.KeyReserved"),
                 ("fulfillment", "fulfillment.v1.KeyDelivered")),
            ):
                cur = await conn.execute(
                    f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (b.occurred_at - a.occurred_at)))"
                    f" * 1000 FROM {schema_a}.events a JOIN {schema_b}.events b ON b.aggregate_id = a.aggregate_id"
                    " WHERE a.event_type = %s AND b.event_type = %s AND a.aggregate_id = ANY(%s)",
                    (f"quanyi.{type_a}", f"quanyi.{type_b}", order_ids))
                stages[label + "_p50"] = round(float((await cur.fetchone() or [0])[0] or 0), 1)
        return {
            "orders": len(order_ids),
            "concurrency": concurrency,
            "target_rate": rate or "as fast as possible",
            "entry_orders_per_s": round(len(order_ids) / entry_s, 1),
            "all_delivered_orders_per_s": round(len(order_ids) / total_s, 1),
            "place_ms_p50": round(pct(place_ms, 50), 1), "place_ms_p99": round(pct(place_ms, 99), 1),
            "pay_ms_p50": round(pct(pay_ms, 50), 1), "pay_ms_p99": round(pct(pay_ms, 99), 1),
            "paid_to_delivered_ms_p50": round(pct(latencies, 50), 1),
            "paid_to_delivered_ms_p95": round(pct(latencies, 95), 1),
            "paid_to_delivered_ms_p99": round(pct(latencies, 99), 1),
            "paid_to_delivered_ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
            **stages,
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--buyers", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0, help="orders per second to offer (0: as fast as possible)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-"))
    os.chmod(work, 0o711)
    admin_url, embedded = ensure_postgres(os.environ.get("QUANYI_DATABASE_URL") or
                                          "postgresql://postgres@127.0.0.1:5432/postgres", work / "pg")
    name = f"quanyi_bench_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    broker = TansuBroker(log_path=work / "tansu.log")
    smtp = CapturingSmtpServer()
    broker.start()
    smtp.start()
    private_key, public_key = generate_keypair(work / "psp")
    config = StackConfig.with_free_ports(
        database_url=database_url_for(admin_url, name), kafka_bootstrap=broker.bootstrap, smtp_port=smtp.port,
        data_dir=work, psp_private_key=private_key, psp_public_key=public_key, environment="test",
        extra_env={"QUANYI_ADMIN_EMAIL": ADMIN_EMAIL, "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
                   "QUANYI_PARTNER_SECRETS": json.dumps({PARTNER: PARTNER_SECRET}), "QUANYI_PASSWORD_HASH_N": "1024",
                   "QUANYI_RISK_MAX_ORDERS_PER_MINUTE": "1000000", "QUANYI_LOG_LEVEL": "WARNING",
                   "QUANYI_MAX_IN_FLIGHT": "4096", **json.loads(os.environ.get("BENCH_ENV", "{}"))})
    stack = Stack(config)
    try:
        stack.start()
        stack.wait_ready(90)
        result = asyncio.run(drive(stack, args.orders, args.concurrency, args.buyers, args.rate))
        print(json.dumps(result, indent=2))
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    finally:
        stack.stop()
        smtp.stop()
        broker.stop()
        if not os.environ.get("QUANYI_KEEP_BENCH"):
            drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()
        if not os.environ.get("QUANYI_KEEP_BENCH"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
