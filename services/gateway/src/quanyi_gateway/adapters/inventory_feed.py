"""Follows inventory's topic and invalidates the catalogue cache: a cache, so no inbox and no group.

The feed reads every partition of `quanyi.inventory.v1` from its end, without a consumer group (each
replica keeps its own cache). The cache is live only while the feed follows the topic: it starts empty
when the feed has its positions, is cleared when the broker epoch changes (the broker lost its data), and
goes dark (serves nothing) while the broker cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import Message
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import Envelope, UnreadableEvent, open_envelope
from quanyi_platform.eventstore import topic_for
from quanyi_platform.kafka import BrokerEpoch, ensure_topics

from quanyi_gateway.adapters.catalogue_cache import CachedCatalogue, Invalidation

log = logging.getLogger(__name__)

TOPIC = topic_for("inventory")


def _types(*names: str) -> frozenset[str]:
    return frozenset(f"quanyi.inventory.v1.{name}" for name in names)


# Event types that change how many keys a SKU has, never its price.
STOCK_EVENTS = _types("KeyReserved", "KeysImported", "StockLow", "StockLowCleared", "PoolCreated")
# Event types that change nothing a SKU shows (price, name, stock): skipped by their header, not decoded.
IRRELEVANT_EVENTS = _types("KeysRevealed", "DataKeysRewrapped", "ProductCreated", "StockShort")
_IRRELEVANT_HEADERS = frozenset(t.encode() for t in IRRELEVANT_EVENTS)
# Any other type whose name says catalogue (or whose payload carries a price) may change prices.
_CATALOGUE_WORDS = ("Sku", "Product", "Price", "Catalog")
_MAX_BACKOFF_S = 30.0
_CLOSE_TIMEOUT_S = 3.0


class BrokerUnreachable(Exception):
    """The broker did not answer the epoch check."""


def _walk(message: Message, sku_ids: set[str]) -> bool:
    """Adds every `sku_id` (and `sku_ids`) in `message` to `sku_ids`; True when a `price` field is set."""
    priced = False
    for field, value in message.ListFields():
        if field.name == "sku_id" and isinstance(value, str):
            sku_ids.add(value)
        elif field.name == "sku_ids" and field.type == field.TYPE_STRING:
            sku_ids.update(value)
        elif field.name == "price":
            priced = True
        if field.type == field.TYPE_MESSAGE:
            children = value if field.is_repeated else [value]
            for child in children:
                if isinstance(child, Message):
                    priced = _walk(child, sku_ids) or priced
    return priced


def invalidation_for(envelope: Envelope, payload: Message | None) -> Invalidation:
    """What an inventory event may have changed in the catalogue.

    Stock events drop the stock of the SKUs they name; events that change nothing a SKU shows drop
    nothing. Any other event names the catalogue (a SKU, product or price type, or a payload with a
    price) and drops price and stock of the SKUs it names, or of all SKUs when it names none; or it is
    about something else and drops the stock of the SKUs it names, or of all SKUs. An unknown type (a
    newer inventory than this gateway) drops everything.
    """
    if envelope.type in IRRELEVANT_EVENTS:
        return Invalidation()
    if payload is None:
        return Invalidation(prices=None, stock=None)
    sku_ids: set[str] = set()
    priced = _walk(payload, sku_ids)
    if envelope.aggregate_type.lower().startswith("sku") and envelope.aggregate_id:
        sku_ids.add(envelope.aggregate_id)
    named = frozenset(sku_ids) if sku_ids else None
    if envelope.type in STOCK_EVENTS:
        return Invalidation(prices=frozenset(), stock=named)
    short = envelope.type.rsplit(".", 1)[-1]
    if priced or any(word in short for word in _CATALOGUE_WORDS):
        return Invalidation(prices=named, stock=named)
    return Invalidation(prices=frozenset(), stock=named)


class InventoryFeed:
    """Keeps a CachedCatalogue in step with inventory's events (see the module's docstring)."""

    def __init__(self, settings: PlatformSettings, cache: CachedCatalogue, fetch_wait_ms: int) -> None:
        self._settings = settings
        self._cache = cache
        self._wait_ms = fetch_wait_ms
        self.following = asyncio.Event()
        self.events_seen = 0
        # How many times the cache went live (empty) at a known position: at start and after each loss.
        self.starts = 0
        self._closing: set[asyncio.Future[None]] = set()  # clients still closing in the background

    async def run(self) -> None:
        """Follow the topic until cancelled; reconnect with a growing pause when the broker is away."""
        backoff = 1.0
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # aiokafka can turn the cancellation of a connection attempt into a KafkaError.
                    raise asyncio.CancelledError() from exc
                if self.following.is_set():
                    backoff = 1.0  # it had been following: try again soon
                log.warning(
                    "catalogue cache feed interrupted; the cache is off until it is back",
                    extra={"error": repr(exc), "retry_in_s": backoff},
                )
            finally:
                self.following.clear()
                self._cache.go_dark()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _follow(self) -> None:
        await ensure_topics(self._settings, [TOPIC])
        epoch = BrokerEpoch(self._settings)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=None,
            client_id="gateway-catalogue-cache",
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._wait_ms,
            request_timeout_ms=10_000,
            metadata_max_age_ms=30_000,
        )
        await consumer.start()
        try:
            known = await epoch.read_or_create()
            if known is None:
                raise BrokerUnreachable()
            await self._seek_to_end(consumer)
            self._cache.go_live()
            self.starts += 1
            self.following.set()
            log.info("catalogue cache live", extra={"topic": TOPIC})
            next_check = time.monotonic() + self._settings.broker_epoch_check_s
            while True:
                batch = await consumer.getmany(timeout_ms=self._wait_ms, max_records=1000)
                for records in batch.values():
                    for record in records:
                        self._apply(record)
                if time.monotonic() >= next_check:
                    current = await epoch.read()
                    if current is None:
                        raise BrokerUnreachable()
                    if current != known:
                        log.warning("broker lost its data: catalogue cache cleared")
                        await ensure_topics(self._settings, [TOPIC])
                        await self._seek_to_end(consumer)
                        self._cache.clear()
                        self.starts += 1
                        known = current
                    next_check = time.monotonic() + self._settings.broker_epoch_check_s
        finally:
            # Off at once; the clients' shutdown can take long against a broker that has just restarted.
            self.following.clear()
            self._cache.go_dark()
            # Waited for a bounded time only (asyncio.wait, not wait_for, which would wait for the
            # cancellation too): aiokafka's stop can hang for a minute against a restarted broker.
            closing = asyncio.ensure_future(self._close(consumer, epoch))
            done, _ = await asyncio.wait({closing}, timeout=_CLOSE_TIMEOUT_S)
            if not done:
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(consumer: AIOKafkaConsumer, epoch: BrokerEpoch) -> None:
        for close in (consumer.stop, epoch.close):
            try:
                await close()
            except (KafkaError, OSError) as exc:
                log.info("catalogue cache feed: a client closed uncleanly", extra={"error": repr(exc)})

    async def _seek_to_end(self, consumer: AIOKafkaConsumer) -> None:
        """Assign every partition and fix each position at the current end, before going live."""
        await consumer.topics()  # refreshes the metadata
        partitions = consumer.partitions_for_topic(TOPIC) or set()
        if not partitions:
            raise BrokerUnreachable()
        tps = [TopicPartition(TOPIC, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)

    def _apply(self, record: ConsumerRecord[Any, Any]) -> None:
        self.events_seen += 1
        for key, value in record.headers or ():
            if key == "type" and bytes(value) in _IRRELEVANT_HEADERS:
                return
        try:
            envelope, payload = open_envelope(bytes(record.value or b""))
        except UnreadableEvent:
            return
        change = invalidation_for(envelope, payload)
        self._cache.invalidate(change)
