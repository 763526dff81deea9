"""The outbox relay: publishes a service's event store to its topic in commit order."""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
import time
import zlib
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from psycopg import AsyncConnection, OperationalError
from psycopg_pool import AsyncConnectionPool

from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import Envelope, kafka_headers
from quanyi_platform.kafka import BrokerEpoch, ensure_topics, make_producer

log = logging.getLogger(__name__)


class Relay:
    """Publishes rows of `events` whose published_at is NULL, oldest seq first, then marks them.

    Guarantees:
    - Nothing committed is lost: a row is marked published only after the broker acknowledged it (by the
      statement of the next poll, which follows within a poll interval), so a crash (even SIGKILL) at
      any point leaves it unmarked and it is sent again on restart. Consumers are idempotent, so a second
      send has no second effect.
    - Nothing uncommitted is sent: the relay reads only committed rows.
    - One aggregate's events reach the topic in version order: they are keyed by aggregate id (one
      partition) and sent in seq order, one batch at a time.
    - Commit order wherever it can matter: a transaction that could see another's committed events drew
      its seqs after that commit and became visible after it, so its events are published after the
      other's. Two transactions that overlapped (neither saw the other) may go out in either order.
    - One relay per topic is active: leadership is a Postgres session advisory lock.
    - When the broker lost its data (a new broker epoch), every event is republished.

    Marking a row published leaves a dead entry in the partial index of unpublished rows until vacuum,
    and long transactions elsewhere keep vacuum from removing it, so a plain scan of that index grows
    with the traffic. The relay therefore keeps a floor: a seq at or below which every event is
    published. Now and then the relay notes the sequence's last value L and then takes a transaction id
    X, above every id assigned before; once the
    oldest running transaction is at or past X, every transaction that drew a seq <= L has ended (its id
    was taken before its seq: see EventStore.append), so nothing at or below L can still appear.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: PlatformSettings,
        topic: str,
        wakeup: asyncio.Event | None = None,
    ) -> None:
        """`wakeup` (the EventStore's `appended`) is set when this process appends: the relay then polls
        fast for a short burst (the commit follows the append within milliseconds) and otherwise sleeps
        long, so it publishes soon after a commit and an idle relay does no work."""
        self._wakeup = wakeup
        self._known_epoch: str | None = None
        self._pool = pool
        self._settings = settings
        self.topic = topic
        self._epoch = BrokerEpoch(settings)
        self._producer: AIOKafkaProducer | None = None
        self.published = 0
        self.polls = 0  # batches asked of the store, empty or not
        self.xids_taken = 0  # transaction ids drawn for checkpoints (an idle relay draws none)
        self._floor = 0
        # (transaction id X, seq L): once every transaction below X has ended, nothing <= L can appear.
        self._checkpoints: collections.deque[tuple[int, int]] = collections.deque()
        self._next_checkpoint = 0.0
        self._checkpointed_seq: int | None = None
        self._conn: AsyncConnection[Any] | None = None
        self._leading = False
        # Seqs the broker acknowledged, marked published by the next poll's statement (one round trip
        # fewer per batch; the relay polls again within relay_poll_ms after a batch, so they are marked
        # soon after).
        self._unmarked: list[int] = []

    @property
    def floor(self) -> int:
        """The seq at or below which every event of the topic is known to be published."""
        return self._floor

    async def run(self) -> None:
        lock_key = zlib.crc32(f"relay:{self.topic}".encode())
        conn = await self._connection()
        try:
            while True:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (lock_key,))
                row: Any = await cur.fetchone()
                if row and row["locked"]:
                    break
                await asyncio.sleep(1.0)
            self._leading = True
            log.info("relay leading", extra={"topic": self.topic})
            await self._lead()
        finally:
            if self._producer is not None:
                await self._producer.stop()
            await self._epoch.close()
            await conn.close()

    async def _connection(self) -> AsyncConnection[Any]:
        """The relay's own autocommit connection: a poll is one round trip, and it holds the leader lock."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._leading:
            # The lock went with the connection; another relay may lead now. Stop (the process restarts).
            raise OperationalError("the relay lost its database connection, and with it the leader lock")
        # The pool's own settings (its schema on the search path, dict rows), in autocommit.
        conninfo, kwargs = self._pool.conninfo, self._pool.kwargs
        if not isinstance(conninfo, str) or not isinstance(kwargs, dict):
            raise TypeError("the relay needs a pool made with a fixed conninfo and kwargs (db.create_pool)")
        self._conn = await AsyncConnection.connect(conninfo, **{**kwargs, "autocommit": True})
        return self._conn

    async def _lead(self) -> None:
        poll = self._settings.relay_poll_ms / 1000
        idle_poll = max(poll, self._settings.relay_idle_poll_ms / 1000)
        empty_polls = 0
        next_epoch_check = 0.0
        burst_until = 0.0
        settled = False
        while True:
            try:
                if time.monotonic() >= next_epoch_check:
                    await self._check_epoch()
                    next_epoch_check = time.monotonic() + self._settings.broker_epoch_check_s
                published = 0 if settled else await self.publish_batch()
                settled = False
                if published == 0:
                    empty_polls += 1
                    if self._wakeup is None:
                        await asyncio.sleep(poll if empty_polls < 50 else idle_poll)
                    elif time.monotonic() < burst_until:
                        await asyncio.sleep(poll)
                    elif await self._sleep_until_woken():
                        burst_until = time.monotonic() + self._settings.relay_wake_burst_ms / 1000
                    else:
                        # No append of this process: another process's would show in the sequence.
                        settled = await self._settled()
                else:
                    empty_polls = 0
                    if self._wakeup is not None:
                        burst_until = time.monotonic() + self._settings.relay_wake_burst_ms / 1000
                    if published < self._settings.relay_batch_size:
                        # It took all there was: gather for a poll interval rather than publish the few
                        # events committed meanwhile as a batch of their own (a statement, a produce
                        # request and broker batches each). A full batch means more is waiting: at once.
                        await asyncio.sleep(poll)
            except (KafkaError, OSError) as exc:
                log.warning("relay cannot reach the broker; retrying", extra={"error": repr(exc)})
                await self._reset_producer()
                await asyncio.sleep(1.0)
                next_epoch_check = 0.0

    async def _sleep_until_woken(self) -> bool:
        """Sleep until this process appends (True) or the idle poll interval passes (False)."""
        assert self._wakeup is not None
        self._wakeup.clear()
        timeout = self._settings.relay_woken_idle_poll_ms / 1000
        # The epoch check still runs on its own clock: never sleep past it.
        timeout = min(timeout, self._settings.broker_epoch_check_s)
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _settled(self) -> bool:
        """True when nothing can be waiting: every event up to the sequence's last value is published (the
        floor) and marked. One read of the sequence and nothing kept: what an idle relay does instead of a
        poll (two statements and a checkpoint) when no append of its own process woke it."""
        if self._unmarked:
            return False
        conn = await self._connection()
        cur = await conn.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS last_seq"
            " FROM events_seq_seq"
        )
        row: Any = await cur.fetchone()
        return self._floor >= int(row["last_seq"])

    async def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            except Exception:  # the broker is gone; nothing to flush
                log.debug("producer stop failed", exc_info=True)
            self._producer = None

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(self._settings, f"relay-{self.topic}")
            await producer.start()
            self._producer = producer
        return self._producer

    async def _check_epoch(self) -> None:
        epoch = await self._epoch.read_or_create()
        if epoch is None:
            raise OSError("broker epoch unavailable")
        if epoch == self._known_epoch:
            return  # recorded already: no transaction for a check that finds nothing new
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT broker_epoch FROM relay_state WHERE topic = %s FOR UPDATE", (self.topic,)
            )
            row: Any = await cur.fetchone()
            if row is not None and row["broker_epoch"] == epoch:
                self._known_epoch = epoch
                return
            await ensure_topics(self._settings, [self.topic])
            if row is not None:
                cur = await conn.execute(
                    "UPDATE events SET published_at = NULL WHERE topic = %s AND published_at IS NOT NULL",
                    (self.topic,),
                )
                self._unmarked = []  # sent to the broker that lost them: to be sent again, not marked
                self._floor = 0
                self._checkpoints.clear()
                self._checkpointed_seq = None
                log.warning(
                    "broker lost its data: republishing the event store",
                    extra={"topic": self.topic, "events": cur.rowcount, "epoch": epoch},
                )
            await conn.execute(
                "INSERT INTO relay_state (topic, broker_epoch) VALUES (%s, %s) ON CONFLICT (topic)"
                " DO UPDATE SET broker_epoch = EXCLUDED.broker_epoch, updated_at = now()",
                (self.topic, epoch),
            )
        self._known_epoch = epoch

    def _advance_floor(self, xmin: int, first_unpublished: int | None) -> None:
        """Move the floor up to the newest checkpoint whose transactions have all ended (xmin past it)."""
        safe = None
        while self._checkpoints and self._checkpoints[0][0] <= xmin:
            safe = self._checkpoints.popleft()[1]
        if safe is None:
            return
        # Everything <= safe is visible now; below the first unpublished row all of it is published.
        limit = safe if first_unpublished is None else min(safe, first_unpublished - 1)
        self._floor = max(self._floor, limit)

    async def _send(self, producer: AIOKafkaProducer, rows: list[Any]) -> None:
        """Send `rows` (in seq order) as one record batch per partition, each partition's in seq order, and
        wait until the broker acknowledged all of them.

        A record goes to the partition the client's default partitioner would pick for its key (murmur2 of
        the aggregate id), so an aggregate's events stay on one partition. Built here rather than through
        `producer.send` a record at a time, which cost ~20 µs of client CPU per record (a future, the
        partitioner's pure-Python murmur2, the accumulator's checks): the same batches reach the broker.
        """
        partitions = sorted(await producer.partitions_for(self.topic))
        batches: dict[int, Any] = {}
        futures = []
        for row in rows:
            data = bytes(row["envelope"])
            env = Envelope.FromString(data)
            key = row["aggregate_id"].encode()
            partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
            # The store's order travels too: a replay from the topic merges partitions by it.
            headers = [*kafka_headers(env), ("seq", str(row["seq"]).encode())]
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=data, timestamp=None, headers=headers) is None:
                # Full: it goes first, and the partition's next records start a batch of their own (a
                # batch's first record is always taken).
                futures.append(await producer.send_batch(batch, self.topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=data, timestamp=None, headers=headers)
        for partition, batch in batches.items():
            futures.append(await producer.send_batch(batch, self.topic, partition=partition))
        await asyncio.gather(*futures)

    async def publish_batch(self) -> int:
        """Publish up to one batch; returns how many events were published."""
        self.polls += 1
        conn = await self._connection()
        if time.monotonic() >= self._next_checkpoint:
            # First the sequence's last value, then a fresh transaction id: whoever drew a seq up to
            # that value had taken its id before (EventStore.append), so a lower one. Taking an id
            # costs one, hence at most every 100 ms.
            cur = await conn.execute(
                "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS last_seq"
                " FROM events_seq_seq"
            )
            seq_row: Any = await cur.fetchone()
            last_seq = int(seq_row["last_seq"])
            # No seq drawn since the last checkpoint: that one already covers last_seq (with an older id,
            # so sooner), and an idle relay must not burn a transaction id every 100 ms. Once that
            # checkpoint is used up, take more only while the floor still lags (rows that were unpublished
            # then held it back).
            pending = bool(self._checkpoints) or self._floor >= last_seq
            if last_seq != self._checkpointed_seq or not pending:
                cur = await conn.execute("SELECT pg_current_xact_id()::text::bigint AS xid")
                xid_row: Any = await cur.fetchone()
                self._checkpoints.append((int(xid_row["xid"]), last_seq))
                self.xids_taken += 1
                self._checkpointed_seq = last_seq
            self._next_checkpoint = time.monotonic() + 0.1
        # One statement, one snapshot: it marks the previous batch published, and reads its xmin and the
        # unpublished rows (those it marks still look unpublished to its snapshot: left out by seq).
        cur = await conn.execute(
            "WITH marked AS (UPDATE events SET published_at = now() WHERE seq = ANY(%(marked)s::bigint[]))"
            " SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, e.seq, e.aggregate_id,"
            " e.envelope FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT seq, aggregate_id, envelope"
            " FROM events WHERE published_at IS NULL AND topic = %(topic)s AND seq > %(floor)s"
            " AND seq <> ALL(%(marked)s::bigint[]) ORDER BY seq LIMIT %(limit)s) AS e ON true",
            {"marked": self._unmarked, "topic": self.topic, "floor": self._floor,
             "limit": self._settings.relay_batch_size},
        )
        self._unmarked = []
        found: list[Any] = await cur.fetchall()
        xmin = int(found[0]["xmin"])
        rows = [r for r in found if r["seq"] is not None]
        self._advance_floor(xmin, rows[0]["seq"] if rows else None)
        if not rows:
            return 0
        await self._send(await self._producer_started(), rows)
        self._unmarked = [r["seq"] for r in rows]
        self.published += len(rows)
        return len(rows)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a record key, as the clients' default partitioners compute it (unsigned 32
    bit; `& 0x7FFFFFFF` and the partition count then pick the partition). aiokafka's own takes ~15 µs for
    an id of 36 bytes; this one reads the 4-byte blocks at once (tested equal to it)."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    blocks = length >> 2
    for k in struct.unpack_from(f"<{blocks}I", data):
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length & 3
    if tail:
        i = blocks << 2
        if tail == 3:
            h ^= data[i + 2] << 16
        if tail >= 2:
            h ^= data[i + 1] << 8
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h
