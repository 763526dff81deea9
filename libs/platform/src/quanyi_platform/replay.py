"""Replay: rebuild a service's projections from its events, compare them with live, swap them in.

The shadow schema `<service>__replay` is made by running the service's own migrations into it; every table
that no projection owns is then dropped from it, so the connection's search path (`<shadow>, <service>`)
finds the projection tables in the shadow and everything else (the record: event store, imported key
material, the journal) in the live schema. The projections are the very objects the live path runs inline
(`EventStore.append`), fed here in large batches.

Consistency without stopping the service:
- The bulk rebuild reads events up to a *settled* seq W: every transaction that drew a seq at or below W
  has ended (a momentary SHARE lock on `events` waits for the appenders in flight).
- `verify` catches the shadow up and compares inside one REPEATABLE READ transaction: live projection rows
  and the events visible in that snapshot commit together, so both sides describe the same events.
- `swap` locks the live projection tables (waiting for the transactions that wrote them), catches up, and
  replaces the live rows with the shadow's in the same transaction. It never waits long for a lock
  (lock_timeout) and retries, so a live transaction is never the one chosen to die in a lock cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import importlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from psycopg import AsyncConnection, errors, sql
from psycopg.rows import dict_row, tuple_row

from quanyi_platform import db
from quanyi_platform.envelope import Envelope, datetime_of, message_class
from quanyi_platform.eventstore import topic_for
from quanyi_platform.projection import Projection, StoredEvent, project

Progress = Callable[[int, int], None]

#: The cyclic collector's first generation while a rebuild runs (Python's default is 700). A batch's events
#: live until it is written, some ten objects each: at 700 the collector ran every few dozen events and
#: walked each batch again in the older generations (~25% of a rebuild's CPU). The ledger and the gateway
#: run with the same setting; reference counting still frees everything outside reference cycles at once.
GC_THRESHOLD = (20_000, 10, 10)

#: Rows decoded between two yields to the event loop while the previous batch is written (~2 ms of work):
#: the writer's task gets to send its next statement, so Postgres works beside the decoding.
_DECODE_CHUNK = 500


class ReplayError(Exception):
    """Replay cannot proceed (a source is incomplete, the store is busy for too long, ...)."""


@dataclass(frozen=True)
class ServiceProjections:
    """A service's projections and where its schema's migrations come from."""

    service: str
    projections: tuple[Projection, ...]
    migrations: tuple[str, ...]

    @classmethod
    def of(cls, service: str, only: Sequence[str] = ()) -> ServiceProjections:
        """By convention: `quanyi_<service>.projections.PROJECTIONS` and `quanyi_<service>.migrations`."""
        module = importlib.import_module(f"quanyi_{service}.projections")
        projections: tuple[Projection, ...] = tuple(module.PROJECTIONS)
        if only:
            known = {p.name for p in projections}
            unknown = sorted(set(only) - known)
            if unknown:
                raise ReplayError(
                    f"{service} has no projection {', '.join(unknown)} (it has {', '.join(sorted(known))})"
                )
            projections = tuple(p for p in projections if p.name in set(only))
        return cls(service, projections, (f"quanyi_{service}.migrations",))

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(t for p in self.projections for t in p.tables)

    @property
    def shadow(self) -> str:
        return f"{self.service}__replay"

    @property
    def handled_types(self) -> frozenset[str]:
        return frozenset(t for p in self.projections for t in p.handles)

    @property
    def indexes_after_load(self) -> frozenset[str]:
        return frozenset(i for p in self.projections for i in p.indexes_after_load)


@dataclass
class Rebuilt:
    """A shadow schema holding the projections rebuilt up to seq `upto`."""

    spec: ServiceProjections
    source: str
    events: int = 0
    upto: int = 0
    seconds: float = 0.0
    #: Seqs above `upto` that catch-ups applied to the shadow since.
    applied_after: set[int] = field(default_factory=set)

    @property
    def top(self) -> int:
        return max(self.applied_after, default=self.upto)

    @property
    def shadow(self) -> str:
        return self.spec.shadow

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class TableComparison:
    table: str
    live_rows: int
    shadow_rows: int
    live_hash: str
    shadow_hash: str
    only_live: tuple[str, ...] = ()
    only_shadow: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        return self.live_rows == self.shadow_rows and self.live_hash == self.shadow_hash


@dataclass(frozen=True)
class Comparison:
    tables: tuple[TableComparison, ...]
    upto: int
    caught_up: int = 0

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables)

    def describe(self) -> str:
        lines = []
        for t in self.tables:
            mark = "equal" if t.equal else "DIFFERENT"
            lines.append(f"{t.table}: {mark} (live {t.live_rows} rows, rebuilt {t.shadow_rows})")
            lines.extend(f"  only live:    {r}" for r in t.only_live)
            lines.extend(f"  only rebuilt: {r}" for r in t.only_shadow)
        return "\n".join(lines)


@dataclass
class _Decoder:
    handled: frozenset[str]
    classes: dict[str, type[Message] | None] = field(default_factory=dict)

    def __call__(self, data: bytes, occurred_at: datetime, seq: int) -> StoredEvent | None:
        env = Envelope.FromString(data)
        kind = env.type
        if kind not in self.handled:
            return None
        cls = self.classes.get(kind)
        if cls is None and kind not in self.classes:
            cls = self.classes[kind] = message_class(kind)
        if cls is None:
            return None
        payload = cls.FromString(env.payload)
        return StoredEvent(env, payload, occurred_at, seq)

    def rows(self, rows: Sequence[tuple[Any, ...]]) -> list[StoredEvent]:
        """The handled events of (seq, envelope, occurred_at) rows, in their order."""
        out = []
        for seq, data, at in rows:
            if (event := self(data, at, seq)) is not None:
                out.append(event)
        return out


@contextlib.contextmanager
def _wide_young_generation() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


async def _connect(
    database_url: str, search_path: str | None = None, autocommit: bool = False, *, bulk: bool = False
) -> Any:
    """A connection to `database_url`. `bulk`: its commits do not wait for the WAL to reach the disk (a crash
    loses at most the last moments of a rebuild, which is then made again: its rows are derived)."""
    options = f"-c search_path={search_path}" if search_path else ""
    if bulk:
        options += " -c synchronous_commit=off"
    return await AsyncConnection.connect(
        database_url, autocommit=autocommit, row_factory=dict_row, options=options,
        application_name="quanyi-replay",
    )


async def prepare_shadow(database_url: str, spec: ServiceProjections) -> None:
    """(Re)create the shadow schema: the service's migrations, then only the projections' tables kept."""
    async with await _connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(spec.shadow)))
    await db.migrate(database_url, spec.shadow, list(spec.migrations))
    keep = set(spec.tables)
    async with await _connect(database_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (spec.shadow,))
        present = {r["tablename"] for r in await cur.fetchall()}
        missing = keep - present
        if missing:
            names = ", ".join(sorted(missing))
            raise ReplayError(f"the migrations of {spec.service} create no table {names}")
        for table in sorted(present - keep):
            await conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_ident(spec.shadow, table)))


async def _defer_indexes(database_url: str, spec: ServiceProjections) -> list[str]:
    """Drop the shadow's indexes that the projections build after the bulk load
    (`Projection.indexes_after_load`); returns the statements that make them again."""
    wanted = spec.indexes_after_load
    if not wanted:
        return []
    # Only pg_catalog on the search path: the definitions come back with every name schema-qualified.
    async with await _connect(database_url, "pg_catalog", autocommit=True) as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT c.relname AS name, x.indisunique AS is_unique, pg_get_indexdef(x.indexrelid) AS ddl"
            " FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY c.relname",
            (spec.shadow, sorted(wanted)),
        )
        indexes = await cur.fetchall()
        wrong = sorted(wanted - {r["name"] for r in indexes}) + [r["name"] for r in indexes if r["is_unique"]]
        if wrong:
            raise ReplayError(
                f"{spec.service}'s projections would build indexes after the load that its migrations do not"
                f" make, or that are unique (a unique index checks rows as they come): {', '.join(wrong)}"
            )
        for r in indexes:
            await conn.execute(sql.SQL("DROP INDEX {}").format(_ident(spec.shadow, r["name"])))
    return [str(r["ddl"]) for r in indexes]


async def _build_indexes(database_url: str, statements: Sequence[str]) -> None:
    async with await _connect(database_url, "pg_catalog", autocommit=True) as conn, conn.transaction():
        for statement in statements:
            await conn.execute(statement.encode())


async def drop_shadow(database_url: str, spec: ServiceProjections) -> None:
    async with await _connect(database_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(spec.shadow)))


async def settled_seq(conn: Any, schema: str, timeout_s: float = 60.0) -> int:
    """A seq W such that every event at or below W is committed or will never exist (autocommit `conn`).

    A transaction draws a seq inside its INSERT into `events`, which holds a ROW EXCLUSIVE lock on the table
    until it ends. A SHARE lock waits for all of them and keeps new ones out for the instant it takes to
    read the sequence, so W covers only finished transactions, without waiting on anything else running on
    the server. Appends pause for that instant; the lock never waits long (it retries instead)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '500ms'")
                await conn.execute(
                    sql.SQL("LOCK TABLE {} IN SHARE MODE").format(_ident(schema, "events"))
                )
                cur = await conn.execute(
                    sql.SQL(
                        "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS last FROM {}"
                    ).format(_ident(schema, "events_seq_seq"))
                )
                row = await cur.fetchone()
                return int(row["last"])
        except errors.LockNotAvailable as exc:
            if time.monotonic() > deadline:
                raise ReplayError(f"{schema}'s event store stayed busy for {timeout_s:.0f} s") from exc
            await asyncio.sleep(0.05)


async def published_through(conn: Any, schema: str) -> int:
    """The seq at or below which every event of `schema`'s store is on the broker, as its relay last saved
    it (0 before the relay first ran)."""
    cur = await conn.execute(
        sql.SQL("SELECT coalesce(max(published_through), 0) AS floor FROM {}").format(
            _ident(schema, "relay_state")
        )
    )
    row = await cur.fetchone()
    return int(row["floor"])


async def _count(conn: Any, schema: str, after: int, upto: int | None) -> int:
    query = sql.SQL("SELECT count(*) AS n FROM {} WHERE seq > %s").format(_ident(schema, "events"))
    params: list[Any] = [after]
    if upto is not None:
        query = query + sql.SQL(" AND seq <= %s")
        params.append(upto)
    cur = await conn.execute(query, params)
    return int((await cur.fetchone())["n"])


async def _store_events(
    conn: Any, schema: str, decode: _Decoder, after: int, upto: int | None, batch_size: int,
    skip: set[int] | None = None, read: set[int] | None = None, *, overlap: bool = False,
) -> AsyncGenerator[tuple[list[StoredEvent], int, int], None]:
    """Yields (decoded events of the batch, rows read, last seq) in seq order, leaving out the seqs in
    `skip` and adding those it reads to `read`. `conn` is in a transaction.

    `overlap` (`conn` is the reader's own): the next page is asked for before this one is decoded, and the
    decoding yields to the event loop every `_DECODE_CHUNK` rows, so a batch being written by another task
    meanwhile goes on in Postgres."""
    query = sql.SQL("SELECT seq, envelope, occurred_at FROM {} WHERE seq > %s").format(
        _ident(schema, "events")
    )
    params: list[Any] = [after]
    if upto is not None:
        query = query + sql.SQL(" AND seq <= %s")
        params.append(upto)
    if skip:
        query = query + sql.SQL(" AND NOT (seq = ANY(%s))")
        params.append(sorted(skip))
    query = query + sql.SQL(" ORDER BY seq")
    async with conn.cursor(
        name=f"replay_{int(time.monotonic() * 1000)}", binary=True, row_factory=tuple_row
    ) as cur:
        await cur.execute(query, params)
        if not overlap:
            while rows := await cur.fetchmany(batch_size):
                if read is not None:
                    read.update(int(r[0]) for r in rows)
                yield decode.rows(rows), len(rows), int(rows[-1][0])
            return
        page: asyncio.Future[list[tuple[Any, ...]]] = asyncio.ensure_future(cur.fetchmany(batch_size))
        try:
            while rows := await page:
                page = asyncio.ensure_future(cur.fetchmany(batch_size))
                batch: list[StoredEvent] = []
                for i in range(0, len(rows), _DECODE_CHUNK):
                    await asyncio.sleep(0)
                    batch += decode.rows(rows[i : i + _DECODE_CHUNK])
                if read is not None:
                    read.update(int(r[0]) for r in rows)
                yield batch, len(rows), int(rows[-1][0])
        finally:
            if not page.done():
                with contextlib.suppress(Exception):
                    await page


def seq_ranges(seqs: list[int], most: int = 8) -> str:
    """Sorted `seqs` as ranges for a message: "seq 3, 7-9 and 2 more ranges" (at most `most` shown)."""
    ranges: list[tuple[int, int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    shown = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges[:most])
    more = f" and {len(ranges) - most} more ranges" if len(ranges) > most else ""
    return f"missing seq {shown}{more}"


async def _topic_events(
    bootstrap: str, topic: str, decode: _Decoder, upto: int, ids: dict[int, str], timeout_s: float
) -> list[StoredEvent]:
    """Every event of `topic` with seq <= upto, read from offset 0 of every partition, in seq order.

    `ids` maps each seq of the store to its event id: a record counts only when both match, so another
    database's events on the same broker (tests, a restored copy) are never mixed in."""
    expected = len(ids)
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
        client_id="quanyi-replay", max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    found: dict[int, tuple[bytes, datetime]] = {}
    try:
        await consumer.topics()  # fetches the cluster's metadata
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise ReplayError(f"the broker has no topic {topic}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        while len(found) < expected:
            if time.monotonic() > deadline:
                raise ReplayError(
                    f"{topic} holds {len(found)} of the {expected} events up to seq {upto}: the broker lost"
                    f" some ({seq_ranges(sorted(ids.keys() - found.keys()))}; replay --source store instead)"
                )
            got = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in got.values():
                for rec in records:
                    seq = next((int(v) for k, v in rec.headers or () if k == "seq"), None)
                    if seq is None or seq > upto or seq in found:
                        continue
                    env = Envelope.FromString(bytes(rec.value or b""))
                    if ids.get(seq) != env.event_id:
                        continue
                    found[seq] = (bytes(rec.value or b""), datetime_of(env.occurred_at))
    finally:
        await consumer.stop()
    events = [decode(data, at, seq) for seq, (data, at) in sorted(found.items())]
    return [e for e in events if e is not None]


async def _apply_batches(
    conn: Any, spec: ServiceProjections, batches: AsyncIterator[tuple[list[StoredEvent], int, int]],
    progress: Progress | None, total: int, done: int, commit_each: bool,
) -> int:
    """Project every batch into `conn`'s schema. `commit_each`: each batch in a transaction of its own,
    written by a task while the next batch is read and decoded (see `_store_events`' `overlap`); else all
    in `conn`'s transaction, one after the other."""
    if not commit_each:
        async for batch, read, _last in batches:
            if batch:
                await project(conn, spec.projections, batch)
            done += read
            if progress is not None:
                progress(done, total)
        return done
    writing: asyncio.Task[None] | None = None
    written = 0  # rows read for the batch being written
    try:
        async for batch, read, _last in batches:
            if writing is not None:
                await writing
                writing = None
            done += written
            if progress is not None and written:
                progress(done, total)
            if batch:
                writing = asyncio.create_task(_commit(conn, spec.projections, batch))
            written = read
        if writing is not None:
            await writing
            writing = None
        done += written
        if progress is not None:
            progress(done, total)
    finally:
        if writing is not None:  # the next batch failed to come: let this one end before the connection does
            with contextlib.suppress(Exception):
                await writing
    return done


async def _commit(conn: Any, projections: Sequence[Projection], batch: list[StoredEvent]) -> None:
    async with conn.transaction():
        await project(conn, projections, batch)


async def _list_batches(
    events: list[StoredEvent], batch_size: int
) -> AsyncIterator[tuple[list[StoredEvent], int, int]]:
    for i in range(0, len(events), batch_size):
        chunk = events[i : i + batch_size]
        yield chunk, len(chunk), int(chunk[-1].seq or 0)


async def rebuild(
    database_url: str,
    spec: ServiceProjections,
    *,
    source: str = "store",
    kafka_bootstrap: str | None = None,
    batch_size: int = 5_000,
    progress: Progress | None = None,
    topic_timeout_s: float = 60.0,
) -> Rebuilt:
    """Rebuild `spec`'s projections into the shadow schema from the store or the topic, up to a settled
    seq."""
    if source not in ("store", "topic"):
        raise ReplayError("the source is 'store' or 'topic'")
    if source == "topic" and not kafka_bootstrap:
        raise ReplayError("a replay from the topic needs the broker's address")
    started = time.perf_counter()
    await prepare_shadow(database_url, spec)
    deferred = await _defer_indexes(database_url, spec)
    live = spec.service
    decode = _Decoder(spec.handled_types)
    result = Rebuilt(spec, source)
    async with await _connect(database_url, autocommit=True) as auto:
        upto = await settled_seq(auto, live)
        total = await _count(auto, live, 0, upto)
        if source == "topic":
            deadline = time.monotonic() + topic_timeout_s
            while True:  # the relay publishes soon after a commit; wait for its floor to cover `upto`
                if await published_through(auto, live) >= upto:
                    break
                if time.monotonic() > deadline:
                    raise ReplayError("the relay has not published the store yet; is the service running?")
                await asyncio.sleep(0.05)
    with _wide_young_generation():
        await _load(database_url, spec, source, kafka_bootstrap, decode, upto, total, batch_size, progress,
                    topic_timeout_s)
    await _build_indexes(database_url, deferred)
    result.events = total
    result.upto = upto
    result.seconds = time.perf_counter() - started
    return result


async def _load(
    database_url: str, spec: ServiceProjections, source: str, kafka_bootstrap: str | None, decode: _Decoder,
    upto: int, total: int, batch_size: int, progress: Progress | None, topic_timeout_s: float,
) -> None:
    """Project the events up to `upto` into the shadow, from the store or the topic."""
    live, shadow = spec.service, spec.shadow
    async with await _connect(database_url, f"{shadow},{live}", bulk=True) as writer:
        if source == "store":
            async with await _connect(database_url) as reader, reader.transaction():
                pages = _store_events(reader, live, decode, 0, upto, batch_size, overlap=True)
                async with contextlib.aclosing(pages):
                    await _apply_batches(writer, spec, pages, progress, total, 0, commit_each=True)
        else:
            assert kafka_bootstrap is not None
            async with await _connect(database_url) as reader:
                cur = await reader.execute(
                    sql.SQL("SELECT seq, event_id::text AS id FROM {} WHERE seq <= %s").format(
                        _ident(live, "events")
                    ),
                    (upto,),
                )
                ids = {int(r["seq"]): str(r["id"]) for r in await cur.fetchall()}
            events = await _topic_events(
                kafka_bootstrap, topic_for(spec.service), decode, upto, ids, topic_timeout_s
            )
            await _apply_batches(
                writer, spec, _list_batches(events, batch_size), progress, total, 0, commit_each=True
            )
            if progress is not None:
                progress(total, total)
        await writer.commit()


async def _catch_up(
    conn: Any, spec: ServiceProjections, rebuilt: Rebuilt, batch_size: int
) -> tuple[int, set[int]]:
    """Apply, in `conn`'s transaction, the events visible to it that the shadow has not seen: those above
    the settled seq, less the ones an earlier catch-up applied. A seq above the settled one may commit after
    a higher one, so the applied ones are remembered, not just the highest. Returns (rows read, their seqs);
    the caller adds the seqs to `rebuilt.applied_after` once its transaction has committed."""
    decode = _Decoder(spec.handled_types)
    read: set[int] = set()
    done = await _apply_batches(
        conn, spec,
        _store_events(
            conn, spec.service, decode, rebuilt.upto, None, batch_size, rebuilt.applied_after, read
        ),
        None, 0, 0, commit_each=False,
    )
    return done, read


def _committed(rebuilt: Rebuilt, done: int, read: set[int]) -> None:
    rebuilt.applied_after |= read
    rebuilt.events += done


async def _digest(conn: Any, schema: str, table: str) -> tuple[int, str]:
    cur = await conn.execute(
        sql.SQL(
            "SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS digest"
            " FROM (SELECT md5(t::text) AS h FROM {} AS t) AS rows"
        ).format(_ident(schema, table))
    )
    row = await cur.fetchone()
    return int(row["n"]), str(row["digest"])


async def _differences(conn: Any, a: str, b: str, table: str, limit: int) -> tuple[str, ...]:
    cur = await conn.execute(
        sql.SQL("SELECT t::text AS r FROM {} AS t EXCEPT ALL SELECT t::text FROM {} AS t LIMIT %s").format(
            _ident(a, table), _ident(b, table)
        ),
        (limit,),
    )
    return tuple(str(r["r"]) for r in await cur.fetchall())


async def _compare(conn: Any, spec: ServiceProjections, samples: int) -> list[TableComparison]:
    out = []
    for table in spec.tables:
        live_n, live_h = await _digest(conn, spec.service, table)
        shadow_n, shadow_h = await _digest(conn, spec.shadow, table)
        only_live: tuple[str, ...] = ()
        only_shadow: tuple[str, ...] = ()
        if (live_n, live_h) != (shadow_n, shadow_h):
            only_live = await _differences(conn, spec.service, spec.shadow, table, samples)
            only_shadow = await _differences(conn, spec.shadow, spec.service, table, samples)
        out.append(TableComparison(table, live_n, shadow_n, live_h, shadow_h, only_live, only_shadow))
    return out


async def verify(
    database_url: str, rebuilt: Rebuilt, *, samples: int = 5, batch_size: int = 5_000
) -> Comparison:
    """Catch the shadow up and compare every projection table with live, in one snapshot."""
    spec = rebuilt.spec
    async with await _connect(database_url, f"{spec.shadow},{spec.service}") as conn:
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        caught_up, read = await _catch_up(conn, spec, rebuilt, batch_size)
        tables = await _compare(conn, spec, samples)
        await conn.commit()
    _committed(rebuilt, caught_up, read)
    return Comparison(tuple(tables), rebuilt.top, caught_up)


async def swap(
    database_url: str, rebuilt: Rebuilt, *, attempts: int = 200, lock_timeout_ms: int = 300,
    batch_size: int = 5_000,
) -> Comparison:
    """Replace the live projection tables' rows with the rebuilt ones, atomically, while the service runs.

    The consumers' inbox and then the live projection tables are locked: every transaction that wrote
    them has committed, and every one that will write them waits. Every event these projections handle is
    committed in the same transaction as its projection's writes, so the catch-up inside the lock reads
    exactly the events the live tables reflect; appends that wait for the swap then write their
    projections into the swapped-in rows. Nothing is lost or applied twice, and the event store itself is
    never locked (appenders that read projection tables before appending would otherwise form a lock
    cycle with the swap, which its lock_timeout turns into a retry, forever under a steady stream).
    """
    spec = rebuilt.spec
    live_tables = [sql.Identifier(spec.service, t) for t in spec.tables]
    # Consumers' transactions all begin with their inbox write: once the swap holds the inbox, no batch is
    # half done and new ones wait at their first statement. Other writers reach the tables in their own
    # order; a table the swap timed out on is taken earlier next time, which converges on their order.
    order = list(spec.tables)
    for attempt in range(attempts):
        async with await _connect(database_url, f"{spec.shadow},{spec.service}") as conn:
            waiting_for = "inbox"
            try:
                await conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_timeout_ms}ms"))
                )
                await conn.execute(
                    sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(_ident(spec.service, "inbox"))
                )
                for table in order:
                    waiting_for = table
                    await conn.execute(
                        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_ident(spec.service, table))
                    )
            except errors.LockNotAvailable:
                await conn.rollback()
                if waiting_for in order:
                    order.remove(waiting_for)
                    order.insert(0, waiting_for)
                await asyncio.sleep(min(0.02 * (attempt + 1), 0.5))
                continue
            caught_up, read = await _catch_up(conn, spec, rebuilt, batch_size)
            await conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(live_tables)))
            for table in spec.tables:
                await conn.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                        _ident(spec.service, table), _ident(spec.shadow, table)
                    )
                )
            tables = await _compare(conn, spec, 5)
            await conn.commit()
            _committed(rebuilt, caught_up, read)
            return Comparison(tuple(tables), rebuilt.top, caught_up)
    raise ReplayError(f"{spec.service}'s event store stayed busy; the swap gave up after {attempts} tries")


def digest_of(comparison: Comparison) -> str:
    """One hash of all rebuilt tables: two replays of the same store give the same digest."""
    h = hashlib.sha256()
    for t in comparison.tables:
        h.update(f"{t.table}:{t.shadow_rows}:{t.shadow_hash};".encode())
    return h.hexdigest()
