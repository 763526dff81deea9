"""Invariant checks that read the stack's stores directly (tests may; services may not)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from psycopg import AsyncConnection

SCHEMAS = ("orders", "inventory", "fulfillment", "ledger", "risk", "gateway")


async def scalar(database_url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    async with await AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
        return row[0] if row else None


async def event_counts(database_url: str) -> dict[str, int]:
    """Rows in every service's event store: what was written, and so what will be emitted."""
    out = {}
    async with await AsyncConnection.connect(database_url) as conn:
        for schema in SCHEMAS:
            cur = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.events",))
            row = await cur.fetchone()
            if row and row[0]:
                cur = await conn.execute(f"SELECT count(*) FROM {schema}.events")
                out[schema] = (await cur.fetchone() or [0])[0]
    return out


async def _tables(conn: AsyncConnection[Any]) -> list[tuple[str, str]]:
    """(schema, table) of every table the services own."""
    cur = await conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2",
        (list(SCHEMAS),),
    )
    return [(row[0], row[1]) for row in await cur.fetchall()]


# The gateway's abuse-limit counters count every limited request, refused ones too: that is their job.
COUNTERS = {("gateway", "rate_counters"), ("gateway", "login_failures")}


async def row_counts(database_url: str) -> dict[str, int]:
    """Rows in every table of every service's schema: a request that changed nothing leaves these as they were."""
    out = {}
    async with await AsyncConnection.connect(database_url) as conn:
        for schema, table in await _tables(conn):
            if (schema, table) in COUNTERS:
                continue
            count = await conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            out[f"{schema}.{table}"] = (await count.fetchone() or [0])[0]
    return out


async def settled_row_counts(database_url: str, quiet_for_s: float = 0.5, timeout_s: float = 30) -> dict[str, int]:
    """row_counts once they have stopped changing for `quiet_for_s` (earlier flows' consumers are done)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = await row_counts(database_url)
    while True:
        await asyncio.sleep(quiet_for_s)
        now = await row_counts(database_url)
        if now == last or asyncio.get_running_loop().time() > deadline:
            return now
        last = now


def _contains(value: Any, secrets: list[bytes]) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, memoryview):
        value = bytes(value)
    data = value if isinstance(value, bytes) else str(value).encode()
    return next((s for s in secrets if s in data), None)


async def plaintext_in_tables(database_url: str, secrets: list[str]) -> list[str]:
    """Every (schema.table.column) holding any of `secrets` in any row (I5)."""
    needles = [s.encode() for s in secrets]
    found = []
    async with await AsyncConnection.connect(database_url) as conn:
        for schema, table in await _tables(conn):
            rows = await conn.execute(f'SELECT * FROM "{schema}"."{table}"')
            names = [d.name for d in rows.description or []]
            for row in await rows.fetchall():
                for name, value in zip(names, row, strict=True):
                    if _contains(value, needles):
                        found.append(f"{schema}.{table}.{name}")
    return sorted(set(found))


def plaintext_in_logs(log_dir: Path, secrets: list[str]) -> list[str]:
    needles = [s.encode() for s in secrets]
    return [p.name for p in log_dir.rglob("*.log") if _contains(p.read_bytes(), needles)]


async def plaintext_in_topics(bootstrap: str, secrets: list[str]) -> tuple[int, list[str]]:
    """Read every quanyi topic from the start; return how many records were read and which held a secret."""
    needles = [s.encode() for s in secrets]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    read, hits = 0, []
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith("quanyi."))
        consumer.subscribe(topics)
        idle = 0
        while idle < 10:
            batch = await consumer.getmany(timeout_ms=300)
            if not batch:
                idle += 1
                continue
            idle = 0
            for records in batch.values():
                for r in records:
                    read += 1
                    blob = (r.value or b"") + b"".join(v for _, v in r.headers or ())
                    if _contains(blob, needles):
                        hits.append(f"{r.topic}@{r.partition}:{r.offset}")
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return read, hits
