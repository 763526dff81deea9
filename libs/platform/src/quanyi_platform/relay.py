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
    """Publishes the rows of `events` to the topic, oldest seq first, and marks nothing.

    Guarantees:
    - Nothing committed is lost: the relay's floor (`published_through` in `relay_state`) is a seq at or
      below which every event is on the topic, and it moves only past events the broker acknowledged. A
      relay starts from the saved floor, so a crash (even SIGKILL) at any point sends again at most what
      went out since the floor was last saved (it is saved with the next poll's statement). Consumers are
      idempotent, so a second send has no second effect.
    - Nothing uncommitted is sent: the relay reads only committed rows.
    - One aggregate's events reach the topic in version order: they are keyed by aggregate id (one
      partition) and sent in seq order, one batch at a time.
    - Commit order wherever it can matter: a transaction that could see another's committed events drew
      its seqs after that commit and became visible after it, so its events are published after the
      other's. Two transactions that overlapped (neither saw the other) may go out in either order.
    - One relay per topic is active: leadership is a Postgres session advisory lock.
    - When the broker lost its data (a new broker epoch), every event is republished.

    Between polls the relay remembers the highest seq it sent (`high`) and the seqs below it it has not
    seen (`gaps`): those of transactions still running when it read past them, and seqs that never
    commit. A poll reads rows above `high` and the gap seqs that have appeared since, both by the
    primary key. Nothing is written per event (marking each row published was a non-HOT update of
    every index on `events` and left dead rows behind for vacuum). Every service's store has one topic
    today; a store with two would show each relay the other's seqs as gaps, probed on every poll until
    the floor passes them, so such a relay should read them and skip them unsent instead.

    The floor comes from checkpoints. Now and then the relay notes the sequence's last value L and then
    takes a transaction id X, above every id assigned before; once the oldest running transaction is at
    or past X, every transaction that drew a seq <= L has ended (its id was taken before its seq: see
    EventStore.append), so nothing at or below L can still appear, and every gap at or below L that is
    still empty never will be filled.
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
        self._saved_floor = 0  # the floor as relay_state has it (the restart position)
        self._high = 0  # the highest seq sent
        self._gaps: set[int] = set()  # seqs in (floor, high] not seen yet
        # (transaction id X, seq L): once every transaction below X has ended, nothing <= L can appear.
        self._checkpoints: collections.deque[tuple[int, int]] = collections.deque()
        self._proven = 0  # the highest L of a checkpoint whose transactions have all ended
        self._next_checkpoint = 0.0
        self._checkpointed_seq: int | None = None
        self._conn: AsyncConnection[Any] | None = None
        self._leading = False

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
        conn = await AsyncConnection.connect(conninfo, **{**kwargs, "autocommit": True})
        # Its only writes save the floor, which a poll does whenever the floor moved: without this each
        # of those polls waited for a WAL flush. A floor lost in a server crash only has the relay send
        # again what it had sent since an earlier one (the events themselves commit synchronously).
        await conn.execute("SET synchronous_commit = off")
        self._conn = conn
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
        floor) and the floor is saved. One read of the sequence and nothing kept: what an idle relay does
        instead of a poll (two statements and a checkpoint) when no append of its own process woke it."""
        if self._saved_floor < self._floor:
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
                "SELECT broker_epoch, published_through FROM relay_state WHERE topic = %s FOR UPDATE",
                (self.topic,),
            )
            row: Any = await cur.fetchone()
            if row is not None and row["broker_epoch"] == epoch:
                if self._known_epoch is None:
                    self._start_from(int(row["published_through"]))
                self._known_epoch = epoch
                return
            await ensure_topics(self._settings, [self.topic])
            if row is not None:
                log.warning(
                    "broker lost its data: republishing the event store",
                    extra={"topic": self.topic, "floor": row["published_through"], "epoch": epoch},
                )
            await conn.execute(
                "INSERT INTO relay_state (topic, broker_epoch) VALUES (%s, %s) ON CONFLICT (topic)"
                " DO UPDATE SET broker_epoch = EXCLUDED.broker_epoch, published_through = 0,"
                " updated_at = now()",
                (self.topic, epoch),
            )
        # Sent to a broker that lost them, or never sent: everything goes (again).
        self._start_from(0)
        self._known_epoch = epoch

    def _start_from(self, floor: int) -> None:
        """Publish every event above `floor` from the next poll on (what was sent is forgotten)."""
        self._floor = self._saved_floor = self._high = floor
        self._gaps.clear()

    def _advance_floor(self, xmin: int, first_unpublished: int | None) -> None:
        """Move the floor up to the newest checkpoint whose transactions have all ended (xmin past it), but
        not to the first row this poll found unpublished; forget the gaps it passes (they stay empty)."""
        while self._checkpoints and self._checkpoints[0][0] <= xmin:
            self._proven = max(self._proven, self._checkpoints.popleft()[1])
        # Everything <= proven is visible now; below the first unpublished row all of it is published.
        limit = self._proven if first_unpublished is None else min(self._proven, first_unpublished - 1)
        if limit <= self._floor:
            return
        self._floor = limit
        if self._high < limit:
            self._high = limit
        if self._gaps:
            self._gaps = {seq for seq in self._gaps if seq > limit}

    def _sent(self, seqs: list[int]) -> None:
        """Note `seqs` (ascending) as on the topic: the gaps they fill go, and the seqs they skip above the
        highest one sent before become gaps."""
        gaps, high = self._gaps, self._high
        for seq in seqs:
            if seq > high:
                gaps.update(range(high + 1, seq))
                high = seq
            else:
                gaps.discard(seq)
        self._high = high

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
            # checkpoint is used up, take more only while what is proven lags the sequence.
            pending = bool(self._checkpoints) or self._proven >= last_seq
            if last_seq != self._checkpointed_seq or not pending:
                cur = await conn.execute("SELECT pg_current_xact_id()::text::bigint AS xid")
                xid_row: Any = await cur.fetchone()
                self._checkpoints.append((int(xid_row["xid"]), last_seq))
                self.xids_taken += 1
                self._checkpointed_seq = last_seq
            self._next_checkpoint = time.monotonic() + 0.1
        # One statement, one snapshot: it saves the floor, and reads its xmin and the rows not sent yet (above
        # the highest sent, and in the gaps below it).
        floor = self._floor
        cur = await conn.execute(
            "WITH saved AS (UPDATE relay_state SET published_through = %(floor)s, updated_at = now()"
            " WHERE topic = %(topic)s AND published_through < %(floor)s)"
            " SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, e.seq, e.aggregate_id,"
            " e.envelope FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT * FROM ("
            "(SELECT seq, aggregate_id, envelope FROM events WHERE seq = ANY(%(gaps)s::bigint[])"
            " AND topic = %(topic)s) UNION ALL (SELECT seq, aggregate_id, envelope FROM events"
            " WHERE seq > %(high)s AND topic = %(topic)s ORDER BY seq LIMIT %(limit)s)) AS unsent"
            " ORDER BY seq LIMIT %(limit)s) AS e ON true",
            {"floor": floor, "topic": self.topic, "gaps": list(self._gaps), "high": self._high,
             "limit": self._settings.relay_batch_size},
        )
        self._saved_floor = max(self._saved_floor, floor)
        found: list[Any] = await cur.fetchall()
        xmin = int(found[0]["xmin"])
        rows = [r for r in found if r["seq"] is not None]
        self._advance_floor(xmin, rows[0]["seq"] if rows else None)
        if not rows:
            return 0
        await self._send(await self._producer_started(), rows)
        self._sent([r["seq"] for r in rows])
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
