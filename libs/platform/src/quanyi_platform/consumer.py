"""Idempotent consumers: effects and the inbox row commit together; the Kafka offset is committed after."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from quanyi_platform import telemetry
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import Envelope, UnreadableEvent, open_envelope
from quanyi_platform.kafka import BrokerEpoch, ensure_topics
from quanyi_platform.transient import TransientError as TransientError
from quanyi_platform.transient import is_transient

log = logging.getLogger(__name__)


class ReceivedEvent(NamedTuple):
    """An event read from a topic, with its decoded payload (a NamedTuple: one is made per event)."""

    envelope: Envelope
    payload: Any
    topic: str
    partition: int
    offset: int
    # What the handler's `prepare` made of the event outside the transaction (None without one, or when
    # it failed: `apply` then does that work itself, inside the transaction, where a failure is isolated).
    prepared: Any = None

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)

    @property
    def correlation_id(self) -> str:
        return str(self.envelope.correlation_id)


@dataclass(frozen=True)
class BatchHandler:
    """Handles a whole fetched batch as one unit of work: `apply(conn, events)` gets every new event of the
    batch whose type is in `handles`, in topic order per partition, inside the inbox transaction.

    It should load every aggregate the batch touches at once, decide in memory, append all new events in
    one call and let the projections write set-wise. When it fails for good, the consumer finds the bad
    event by bisection (halves in savepoints) and dead-letters it alone; the rest apply once.
    """

    handles: frozenset[str]
    apply: Callable[[AsyncConnection[Any], list[ReceivedEvent]], Awaitable[None]]
    # Optional work per event that needs no database (turning the payload into the handler's own terms):
    # it runs as the batch is decoded, outside the transaction, so the consumer does it for the next batch
    # while Postgres writes the previous one. Its result reaches `apply` as `ReceivedEvent.prepared`. It
    # must be pure; an exception leaves `prepared` None, and `apply` must then do the work itself.
    prepare: Callable[[Envelope, Any], Any] | None = None


@dataclass(frozen=True)
class DecodedBatch:
    """A fetched batch, decoded: the events the handler handles, and the records that are no events."""

    events: list[ReceivedEvent]
    unreadable: list[tuple[ConsumerRecord, str]]


@dataclass(frozen=True)
class _InFlight:
    """A batch whose transaction runs in `task`, and the records it came as (for their offsets)."""

    task: asyncio.Task[None]
    batch: Mapping[TopicPartition, list[ConsumerRecord]]


# How long InboxConsumer.decode works between two yields to the event loop (s). The transaction in flight
# waits up to this long for each answer from Postgres, and an answer can take two or three turns of the
# loop to reach it (psycopg waits on the socket again while a result is incomplete): at 64 records a turn
# (~2-3.5 ms of the ledger's prepare) the inbox claim's answer waited ~29 ms a batch for ~7 ms of work.
_DECODE_SLICE_S = 0.0003


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Sets `ready` when the group hands this member its partitions; before it gives partitions up, the
    offsets applied but not yet committed are committed (`flush`)."""

    def __init__(self, ready: asyncio.Event, flush: Callable[[], Awaitable[None]]) -> None:
        self._ready = ready
        self._flush = flush

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._flush()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._ready.set()


def _set_fetch_wait(consumer: AIOKafkaConsumer, wait_ms: int, min_bytes: int) -> bool:
    """Change how long the consumer's background fetches wait, and for how much data. aiokafka reads both
    for every fetch request it builds but offers no public setter; returns False where they are absent."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not all(hasattr(fetcher, a) for a in ("_fetch_max_wait_ms", "_fetch_min_bytes")):
        return False
    fetcher._fetch_max_wait_ms = wait_ms
    fetcher._fetch_min_bytes = min_bytes
    return True


class InboxConsumer:
    """Applies the events of `topics` that `handler` handles, each exactly once, a fetched batch at a time.

    Guarantees:
    - A batch's effects and its rows (consumer, event_id) in `inbox` commit in one transaction; a
      redelivered event finds its row and is left out. Effects happen once however often the broker
      delivers.
    - The Kafka offset is committed only after that transaction, so a crash redelivers, never skips.
      Offsets are committed at most every `consumer_commit_interval_ms` (the last ones within that time
      after records stop), before a rebalance and on the way out.
    - Types the handler does not handle are skipped by their `type` header, undecoded (schemas evolve
      additively).
    - An event the handler rejects for good (any non-transient exception) is found by bisection and
      stored in `dead_letters` with the error; the rest of the batch applies once. A transient failure
      retries the whole batch.
    - When the broker epoch changes (the broker lost its data), the consumer re-reads from the start.
    """

    def __init__(
        self,
        name: str,
        topics: Sequence[str],
        handler: BatchHandler,
        pool: AsyncConnectionPool,
        settings: PlatformSettings,
        on_applied: Callable[[int], None] | None = None,
        background: bool = False,
    ) -> None:
        """`on_applied(n)` is called after a batch in which n > 0 events took effect has committed: a hook
        for in-process work that the effects start (fulfillment wakes its e-mail sender with it).
        `background`: off an order's way to delivery, so it fetches less often, in larger batches
        (`consumer_background_fetch_wait_ms` busy and `consumer_background_idle_fetch_wait_ms` idle, instead
        of `consumer_fetch_wait_ms` and `consumer_idle_fetch_wait_ms`)."""
        self.name = name
        self.topics = list(topics)
        self.handler = handler
        self.handled_types = frozenset(handler.handles)
        self._handled_header_values = frozenset(t.encode() for t in self.handled_types)
        self._pool = pool
        self._settings = settings
        self._epoch = BrokerEpoch(settings)
        self._known_epoch: str | None = None
        self.applied = 0
        # Set at the first partition assignment (possibly empty, with more replicas than partitions):
        # from then on, events on the topics are picked up without waiting for the group to form.
        self.ready = asyncio.Event()
        self._on_applied = on_applied
        self._kafka: AIOKafkaConsumer | None = None
        # Offsets whose batches have committed, not yet committed to the broker, and when to next.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._next_commit = 0.0
        self._idle_wait_ms = (
            settings.consumer_background_idle_fetch_wait_ms if background
            else settings.consumer_idle_fetch_wait_ms
        )
        self._busy_wait_ms = (
            settings.consumer_background_fetch_wait_ms if background else settings.consumer_fetch_wait_ms
        )

    @property
    def fetch_wait_ms(self) -> int | None:
        """How long its fetches wait for data now (longer while idle); None before it runs."""
        fetcher = getattr(self._kafka, "_fetcher", None)
        wait = getattr(fetcher, "_fetch_max_wait_ms", None)
        return int(wait) if wait is not None else None

    async def run(self) -> None:
        await self._wait_for_broker()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(300, self._settings.kafka_session_timeout_ms // 5),
            max_poll_records=self._settings.consumer_max_records,
            fetch_max_wait_ms=self._busy_wait_ms,
            fetch_min_bytes=self._settings.consumer_fetch_min_bytes,
            metadata_max_age_ms=5_000,
            # How often the background fetcher looks for work when nothing wakes it (aiokafka: 200 ms).
            # A fetch's answer, a consumed batch, a seek and a rebalance wake it anyway: this is a safety
            # net, and five looks a second were a good part of an idle consumer's CPU.
            consumer_timeout_ms=1_000,
        )
        self._kafka = consumer
        consumer.subscribe(self.topics, listener=_Assigned(self.ready, lambda: self._commit(consumer)))
        await consumer.start()
        log.info("consumer started", extra={"consumer": self.name, "topics": ",".join(self.topics)})
        next_epoch_check = 0.0
        last_record = time.monotonic()
        idle = False
        # The batch being applied (its transaction in flight) while the next one is fetched and decoded.
        inflight: _InFlight | None = None
        try:
            while True:
                if time.monotonic() >= next_epoch_check:
                    # A re-read from the start moves the positions: nothing may be in flight then.
                    await self._finish(consumer, inflight)
                    inflight = None
                    await self._check_epoch(consumer)
                    next_epoch_check = time.monotonic() + self._settings.broker_epoch_check_s
                try:
                    # getmany returns as soon as a fetch brings records, so its timeout only paces the
                    # loop's own housekeeping; idle, nothing is in flight and the offsets are committed,
                    # and waking every busy fetch wait (33 times a second) was most of an idle service's CPU.
                    batch = await consumer.getmany(
                        timeout_ms=self._idle_wait_ms if idle else self._busy_wait_ms,
                        max_records=self._settings.consumer_max_records,
                    )
                except KafkaError as exc:
                    log.warning("fetch failed; retrying", extra={"error": repr(exc)})
                    await asyncio.sleep(0.5)
                    continue
                if not batch:
                    if inflight is not None:
                        last_record = time.monotonic()  # quiet only from when the last batch is applied
                        if inflight.task.done():
                            await self._finish(consumer, inflight)
                            inflight = None
                    if inflight is None and self._uncommitted and time.monotonic() >= self._next_commit:
                        await self._commit(consumer)  # records stopped: the last offsets within the interval
                    quiet_ms = (time.monotonic() - last_record) * 1000
                    if not idle and quiet_ms >= self._settings.consumer_idle_after_ms:
                        # Idle: a long wait, answered by the first record (min 1 byte), not at its end.
                        idle = _set_fetch_wait(consumer, self._idle_wait_ms, 1)
                    continue
                last_record = time.monotonic()
                if idle:
                    busy = (self._busy_wait_ms, self._settings.consumer_fetch_min_bytes)
                    idle = not _set_fetch_wait(consumer, *busy)
                # Decoded (and prepared) while the previous batch's transaction runs; applied after it.
                decoded = await self.decode([r for tp_records in batch.values() for r in tp_records])
                await self._finish(consumer, inflight)
                inflight = _InFlight(asyncio.create_task(self._apply_retrying(decoded)), batch)
                await asyncio.sleep(0)  # it sends its first statement before the next batch is fetched
        finally:
            try:
                try:
                    await self._finish(consumer, inflight, cancel=True)
                    await self._commit(consumer)
                except Exception as exc:  # on the way out: what is not committed is re-read and dropped
                    log.info("last offset commit failed", extra={"error": repr(exc)})
                await consumer.stop()
            finally:
                await self._epoch.close()

    async def _wait_for_broker(self) -> None:
        while True:
            try:
                await ensure_topics(self._settings, self.topics)
                self._known_epoch = await self._epoch.read()
                return
            except (KafkaError, OSError) as exc:
                log.warning("broker not reachable yet", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    async def _check_epoch(self, consumer: AIOKafkaConsumer) -> None:
        epoch = await self._epoch.read()
        if epoch is None or epoch == self._known_epoch:
            return
        if self._known_epoch is not None:
            log.warning("broker lost its data: re-reading from the start", extra={"consumer": self.name})
            await ensure_topics(self._settings, self.topics)
            self._uncommitted.clear()  # positions in the lost log: the re-read from the start sets new ones
            assigned = consumer.assignment()
            if assigned:
                await consumer.seek_to_beginning(*assigned)
        self._known_epoch = epoch

    async def _apply_retrying(self, decoded: DecodedBatch) -> None:
        """Apply a decoded batch, again after a pause while it fails for a passing reason."""
        while True:
            try:
                applied = await self.apply_decoded(decoded)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("batch failed for a passing reason; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(0.5)
        if applied and self._on_applied is not None:
            self._on_applied(applied)

    async def _finish(
        self, consumer: AIOKafkaConsumer, inflight: _InFlight | None, cancel: bool = False
    ) -> None:
        """Wait for the batch in flight (a failure for good stops the consumer), then note its offsets and
        commit them when due. `cancel`: on the way out, stop it first; its offsets are then not noted."""
        if inflight is None:
            return
        if cancel and not inflight.task.done():
            inflight.task.cancel()
        try:
            await inflight.task
        except asyncio.CancelledError:
            # Stopped on the way out (or cancelled with the loop that awaited it): its transaction rolled
            # back, so its offsets are not noted; the consumer still leaves its group (consumer.stop()).
            if cancel:
                return
            raise
        self._uncommitted.update({tp: recs[-1].offset + 1 for tp, recs in inflight.batch.items() if recs})
        if time.monotonic() >= self._next_commit:
            await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the offsets of the batches applied so far (their effects are committed already)."""
        if not self._uncommitted:
            return
        self._next_commit = time.monotonic() + self._settings.consumer_commit_interval_ms / 1000
        offsets, self._uncommitted = self._uncommitted, {}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group rebalanced: the next owner redelivers and the inbox drops what was applied.
            log.info("offset commit failed", extra={"error": repr(exc)})

    async def apply(self, records: Sequence[ConsumerRecord]) -> int:
        """Apply a batch in one transaction; returns how many events took effect. Public for tests."""
        return await self.apply_decoded(await self.decode(records))

    async def decode(self, records: Sequence[ConsumerRecord]) -> DecodedBatch:
        """The batch's events that the handler handles, decoded and prepared (BatchHandler.prepare), and
        the records that are not events at all. No database work: the consumer decodes the next batch
        while the previous one's transaction runs, so this yields to the event loop now and then, letting
        that transaction's round trips go on."""
        events: list[ReceivedEvent] = []
        unreadable: list[tuple[ConsumerRecord, str]] = []
        prepare = self.handler.prepare
        clock = time.perf_counter
        until = clock() + _DECODE_SLICE_S
        for rec in records:
            if clock() >= until:
                await asyncio.sleep(0)
                until = clock() + _DECODE_SLICE_S
            if not self._may_handle(rec):
                continue  # known from its `type` header alone: not decoded
            try:
                env, payload = open_envelope(bytes(rec.value or b""))
            except UnreadableEvent as exc:
                unreadable.append((rec, str(exc)))
                continue
            if payload is None or env.type not in self.handled_types:
                continue
            prepared = None
            if prepare is not None:
                try:
                    prepared = prepare(env, payload)
                except Exception:  # the handler meets it again in the transaction, where it is isolated
                    prepared = None
            events.append(ReceivedEvent(env, payload, rec.topic, rec.partition, rec.offset, prepared))
        return DecodedBatch(events, unreadable)

    async def apply_decoded(self, decoded: DecodedBatch) -> int:
        """Apply a decoded batch in one transaction; returns how many events took effect."""
        events, unreadable = decoded.events, decoded.unreadable
        if not events and not unreadable:
            return 0
        try:
            return await self._apply_batch(self.handler, events, unreadable, isolate=False)
        except Exception as exc:
            if is_transient(exc):
                raise
            # Some event failed for good: bisect the batch in savepoints to find it.
            return await self._apply_batch(self.handler, events, unreadable, isolate=True)

    def _may_handle(self, rec: ConsumerRecord) -> bool:
        for key, value in rec.headers or ():
            if key == "type":
                return bytes(value) in self._handled_header_values
        return True  # no header: decode to find out

    async def _apply_batch(
        self,
        handler: BatchHandler,
        events: list[ReceivedEvent],
        unreadable: list[tuple[ConsumerRecord, str]],
        isolate: bool,
    ) -> int:
        async with self._pool.connection() as conn, conn.transaction():
            fresh = await self._claim(conn, [e.event_id for e in events])
            todo: list[ReceivedEvent] = []
            for ev in events:
                if ev.event_id in fresh:
                    fresh.discard(ev.event_id)  # a duplicate within the batch counts once
                    todo.append(ev)
            if todo:
                with telemetry.continue_trace(
                    {"traceparent": todo[0].envelope.traceparent, "tracestate": todo[0].envelope.tracestate},
                    f"{self.name} batch of {len(todo)}",
                    todo[0].correlation_id,
                ):
                    if isolate:
                        applied = await self._bisect(conn, handler, todo)
                    else:
                        await handler.apply(conn, todo)
                        applied = len(todo)
            else:
                applied = 0
            await self._dead_letter_unreadable(conn, unreadable)
        self.applied += applied
        return applied

    async def _bisect(
        self, conn: AsyncConnection[Any], handler: BatchHandler, events: list[ReceivedEvent]
    ) -> int:
        """Apply `events` in a savepoint; if that fails for good, each half on its own, down to the one
        event that fails, which goes to dead letters. Returns how many took effect."""
        try:
            async with conn.transaction():
                await handler.apply(conn, events)
            return len(events)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(events) > 1:
                mid = len(events) // 2
                return await self._bisect(conn, handler, events[:mid]) + await self._bisect(
                    conn, handler, events[mid:]
                )
            ev = events[0]
            log.error(
                "event rejected; stored in dead_letters",
                extra={
                    "consumer": self.name,
                    "event_id": ev.event_id,
                    "type": ev.envelope.type,
                    "error": type(exc).__name__,
                },
            )
            await self._dead_letter(
                conn,
                ev.event_id,
                ev.envelope.type,
                ev.topic,
                ev.partition,
                ev.offset,
                ev.envelope.SerializeToString(),
                repr(exc),
            )
            return 0

    async def _dead_letter_unreadable(
        self, conn: AsyncConnection[Any], unreadable: list[tuple[ConsumerRecord, str]]
    ) -> None:
        for rec, why in unreadable:
            fake_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rec.topic}/{rec.partition}/{rec.offset}"))
            await self._dead_letter(
                conn, fake_id, "", rec.topic, rec.partition, rec.offset, bytes(rec.value or b""), why
            )

    async def _claim(self, conn: AsyncConnection[Any], event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        # The ids travel as one JSON text: psycopg's text dumping of a list (a regex per element) costs more
        # client CPU than the claim itself. What comes back is the ids already claimed, as one JSON text
        # (usually null): a row per new id cost the client a row to read and made the answer span several
        # reads of the socket, each of which waited for the event loop while the next batch was decoded.
        cur = await conn.execute(
            "WITH ids AS (SELECT e AS id, e::uuid AS event_id FROM json_array_elements_text(%s::json) AS e),"
            " claimed AS (INSERT INTO inbox (consumer, event_id) SELECT %s, event_id FROM ids"
            " ON CONFLICT DO NOTHING RETURNING event_id)"
            " SELECT json_agg(id) AS seen FROM ids WHERE event_id NOT IN (SELECT event_id FROM claimed)",
            (json.dumps(event_ids), self.name),
        )
        row = await cur.fetchone()
        seen = row["seen"] if row is not None else None
        return set(event_ids).difference(seen) if seen else set(event_ids)

    async def _dead_letter(
        self,
        conn: AsyncConnection[Any],
        event_id: str,
        event_type: str,
        topic: str,
        partition: int,
        offset: int,
        envelope: bytes,
        error: str,
    ) -> None:
        await conn.execute(
            "INSERT INTO dead_letters"
            ' (consumer, event_id, event_type, topic, partition, "offset", envelope, error)'
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (consumer, event_id) DO NOTHING",
            (self.name, event_id, event_type, topic, partition, offset, envelope, error[:2000]),
        )
        await conn.execute(
            "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (self.name, event_id),
        )
