"""Invariant checks that read the stack's stores directly (tests may; services may not)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from psycopg import AsyncConnection
from quanyi_platform.envelope import Envelope

SCHEMAS = ("orders", "inventory", "fulfillment", "ledger", "risk", "gateway")


async def scalar(database_url: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    async with await AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
        return row[0] if row else None


async def _per_store(database_url: str, query: str) -> dict[str, int]:
    """`query` (its `{events}` the store's table) over every service's event store that exists."""
    out = {}
    async with await AsyncConnection.connect(database_url) as conn:
        for schema in SCHEMAS:
            cur = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.events",))
            row = await cur.fetchone()
            if row and row[0]:
                cur = await conn.execute(query.format(events=f"{schema}.events"))
                out[schema] = (await cur.fetchone() or [0])[0]
    return out


async def event_counts(database_url: str) -> dict[str, int]:
    """Rows in every service's event store: what was written, and so what will be emitted."""
    return await _per_store(database_url, "SELECT count(*) FROM {events}")


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


async def event_marks(database_url: str) -> dict[str, int]:
    """The last event's sequence number in every service's event store."""
    return await _per_store(database_url, "SELECT coalesce(max(seq), 0) FROM {events}")


async def _events_after(database_url: str, marks: dict[str, int]) -> list[tuple[str, str, str, str, str]]:
    """(schema, event type, correlation id, event id, causation id) of every event after `marks`."""
    out: list[tuple[str, str, str, str, str]] = []
    async with await AsyncConnection.connect(database_url) as conn:
        for schema, seq in marks.items():
            cur = await conn.execute(
                f"SELECT event_type, correlation_id, envelope FROM {schema}.events WHERE seq > %s ORDER BY seq",
                (seq,),
            )
            for t, c, data in await cur.fetchall():
                env = Envelope.FromString(bytes(data))
                out.append((schema, t, c, env.event_id, env.causation_id))
    return out


async def _background(
    database_url: str, marks: dict[str, int], new: list[tuple[str, str, str, str, str]], mine: set[str]
) -> set[str]:
    """Event ids of `new` that no request in the window caused: each was caused by an event recorded before
    the window, or by another such event (a flow already under way: a delivery finishing, an unpaid order
    expiring), or continues an earlier flow that is not this test's (`mine`: correlation ids), as a
    poller's event that names no cause does."""
    causes = {cause for *_, cause in new if cause}
    correlations = {c for _, _, c, _, _ in new}
    earlier_ids: set[str] = set()
    earlier_flows: set[str] = set()
    async with await AsyncConnection.connect(database_url) as conn:
        for schema, seq in marks.items():
            cur = await conn.execute(
                f"SELECT event_id::text FROM {schema}.events WHERE seq <= %s AND event_id::text = ANY(%s)",
                (seq, list(causes)),
            )
            earlier_ids |= {i for (i,) in await cur.fetchall()}
            cur = await conn.execute(
                f"SELECT DISTINCT correlation_id FROM {schema}.events WHERE seq <= %s AND correlation_id = ANY(%s)",
                (seq, list(correlations)),
            )
            earlier_flows |= {c for (c,) in await cur.fetchall()}
    background = {event_id for _, _, c, event_id, _ in new if c in earlier_flows - mine}
    grew = True
    while grew:
        grew = False
        for *_, event_id, cause in new:
            if event_id not in background and (cause in earlier_ids or cause in background):
                background.add(event_id)
                grew = True
    return background


async def changes_nothing(
    database_url: str, action: Callable[[], Awaitable[None]], mine: set[str], attempts: int = 4
) -> None:
    """Assert that `action` (repeatable: requests that are refused) appends no event and writes no row.

    The stack is shared and runs on: an earlier test's unpaid order may expire, or this test's delivery
    finish, inside the window, and move rows that are not `action`'s. So an event fails at once unless it
    was caused by an event recorded before the window (or continues an earlier flow that is not this
    test's, `mine`), and a row written with no event fails at once; rows moved beside such background
    events are measured again, and fail only if that happens every time. (CI failed twice on background
    moves: an expiry, then a late KeysDelivered of this test's own order under load.)"""
    last: tuple[list[tuple[str, str, str]], dict[str, tuple[int, int]]] = ([], {})
    for _ in range(attempts):
        marks = await event_marks(database_url)
        before = await settled_row_counts(database_url)
        await action()
        after = await row_counts(database_url)
        new = await _events_after(database_url, marks)
        diff = {t: (before.get(t, 0), after.get(t, 0)) for t in before.keys() | after.keys()
                if before.get(t, 0) != after.get(t, 0)}
        background = await _background(database_url, marks, new, mine)
        ours = [(schema, t, c) for schema, t, c, event_id, _ in new if event_id not in background]
        assert not ours, f"refused requests appended events: {ours}"
        assert new or not diff, f"refused requests wrote rows: {diff}"
        if not new:
            return
        last = ([(schema, t, c) for schema, t, c, _, _ in new], diff)
    raise AssertionError(f"the stores never held still around the refused requests: events {last[0]}, rows {last[1]}")


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
