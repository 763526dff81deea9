"""Kafka-protocol plumbing: producers, topic creation and the broker epoch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import uuid_utils
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from quanyi_platform.config import PlatformSettings

log = logging.getLogger(__name__)

EPOCH_TOPIC = "quanyi._broker_epoch"

# The epoch last read in this process, per broker (bootstrap), and when: every relay and consumer of a
# process checks it every broker_epoch_check_s, and one read (a metadata request and a fetch) serves them
# all within that time.
_recent_epochs: dict[str, tuple[float, str]] = {}


def make_producer(settings: PlatformSettings, client_id: str) -> AIOKafkaProducer:
    """acks=all always; idempotence only where the broker supports it (a setting: on in production)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        max_batch_size=512 * 1024,
        request_timeout_ms=15_000,
        retry_backoff_ms=100,
    )


async def ensure_topics(
    settings: PlatformSettings, topics: Iterable[str], partitions: int | None = None
) -> None:
    """Create topics with explicit partition counts (auto-created topics would get the broker default)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(t, partitions or settings.kafka_partitions, settings.kafka_replication_factor)
            for t in topics
            if t not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


class BrokerEpoch:
    """Tells which life of the broker we are talking to.

    The first record of the single-partition topic `quanyi._broker_epoch` holds a random id. A broker that
    lost its data (the local one keeps everything in memory) has no such record; the first relay to notice
    writes a new one. When the id changes, relays republish their event stores and consumers re-read
    their topics from the start; inboxes drop what was already applied (DESIGN.md principle 7).

    An epoch read by any BrokerEpoch of the process less than `broker_epoch_check_s` ago is taken as it
    is, so a loss is noticed within two check intervals; `fresh=True` always asks the broker.
    """

    def __init__(self, settings: PlatformSettings) -> None:
        self._settings = settings
        self._consumer: AIOKafkaConsumer | None = None
        self._tp = TopicPartition(EPOCH_TOPIC, 0)

    async def _reader(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka_bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                request_timeout_ms=10_000,
                # Its partition is paused between reads (a resume or a seek wakes the fetcher), so the
                # background fetcher need not look every 200 ms (aiokafka's default) for work it never has.
                consumer_timeout_ms=60_000,
            )
            await self._consumer.start()
        return self._consumer

    async def read(self, fresh: bool = False) -> str | None:
        """The current epoch, or None when the broker has none yet (or cannot be reached)."""
        bootstrap = self._settings.kafka_bootstrap
        recent = _recent_epochs.get(bootstrap)
        max_age = self._settings.broker_epoch_check_s
        if not fresh and recent is not None and time.monotonic() - recent[0] < max_age:
            return recent[1]
        epoch = await self._read()
        if epoch is not None:
            _recent_epochs[bootstrap] = (time.monotonic(), epoch)
        return epoch

    async def _read(self) -> str | None:
        try:
            consumer = await self._reader()
            if EPOCH_TOPIC not in await consumer.topics():
                return None
            if consumer.assignment() != {self._tp}:
                consumer.assign([self._tp])
            consumer.seek(self._tp, 0)
            consumer.resume(self._tp)
            try:
                got = await consumer.getmany(self._tp, timeout_ms=1000, max_records=1)
            finally:
                # Held still between reads: no fetch and no wake-up until the next read resumes it.
                consumer.pause(self._tp)
            records = got.get(self._tp, [])
            if not records or records[0].value is None:
                return None
            return bytes(records[0].value).decode()
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("broker epoch unreadable", extra={"error": repr(exc)})
            return None

    async def read_or_create(self) -> str | None:
        """The current epoch; writes one first when the broker has none."""
        epoch = await self.read()
        if epoch is not None:
            return epoch
        try:
            await ensure_topics(self._settings, [EPOCH_TOPIC], partitions=1)
            producer = make_producer(self._settings, "quanyi-epoch")
            await producer.start()
            try:
                await producer.send_and_wait(EPOCH_TOPIC, str(uuid_utils.uuid7()).encode(), partition=0)
            finally:
                await producer.stop()
        except (KafkaError, OSError) as exc:
            log.warning("broker epoch not written", extra={"error": repr(exc)})
            return None
        # Several relays may race; the first record wins for everybody.
        for _ in range(20):
            epoch = await self.read(fresh=True)
            if epoch is not None:
                return epoch
            await asyncio.sleep(0.1)
        return None

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
