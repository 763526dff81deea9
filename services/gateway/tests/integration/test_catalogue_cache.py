"""The catalogue cache on the real broker: inventory's events, published by a relay from an inventory event
store, invalidate it; without a broker it is off and every lookup reaches inventory."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.infra.tansu import TansuBroker
from quanyi_platform.relay import Relay

Publish = Callable[[str, str, Message], Awaitable[None]]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def inventory_events_published(database_url: str, broker: Any) -> AsyncIterator[Publish]:
    """Appends events to an inventory event store (schema `inventory` of this test's database) and runs
    the platform's relay, which publishes them to `quanyi.inventory.v1` on the real broker."""
    await db.migrate(database_url, "inventory", [])
    pool = await db.create_pool(database_url, "inventory", 1, 2)
    settings = PlatformSettings(environment="test", database_url=database_url, kafka_bootstrap=broker.bootstrap)
    store = EventStore("inventory")
    relay = asyncio.create_task(Relay(pool, settings, topic_for("inventory"), wakeup=store.appended).run())

    async def publish(aggregate_type: str, aggregate_id: str, payload: Message) -> None:
        async with pool.connection() as conn, conn.transaction():
            await store.append(conn, [NewEvent(aggregate_type, aggregate_id, 1, payload)])

    try:
        yield publish
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await pool.close()


def order_body(sku_id: str) -> dict[str, Any]:
    return {"items": [{"sku_id": sku_id, "quantity": 1}]}


async def test_prices_and_stock_are_cached_until_a_real_inventory_event_invalidates_them(
    start_gateway: Any, make_settings: Any, fake: Any, broker: Any, inventory_events_published: Publish
) -> None:
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    fake.add_sku(sku, price_minor=1990, available=10)
    gw = await start_gateway(make_settings(kafka_bootstrap=broker.bootstrap))
    resources = gw.app.state.resources
    await asyncio.wait_for(resources.feed.following.wait(), 30)
    assert resources.catalogue.live
    _, auth = await gw.buyer("buyer@example.com")

    async def place(key: str) -> dict[str, Any]:
        r = await gw.client.post("/v1/orders", json=order_body(sku), headers={**auth, "Idempotency-Key": key})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def shown() -> dict[str, Any]:
        r = await gw.client.get(f"/v1/skus/{sku}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    for i in range(3):
        assert (await place(f"k-{i}"))["items"][0]["unit_price"]["amount_minor"] == 1990
    assert fake.calls.count("GetSku") == 1  # priced once, then from the cache
    assert (await shown())["available"] == 10
    assert (await shown())["available"] == 10
    asked = fake.calls.count("GetSku")

    # Inventory claims a key: its stock changes, and so does what inventory reports.
    fake.skus[sku].available = 9
    await inventory_events_published(
        "Order", "o-1", inventory_events.KeyReserved(order_id="o-1", keys=[inventory_events.ReservedKey(sku_id=sku)])
    )

    async def stock_refreshed() -> bool:
        return (await shown())["available"] == 9

    await eventually(stock_refreshed)
    assert fake.calls.count("GetSku") == asked + 1
    await place("k-after-stock-event")  # the price survived a stock event
    assert fake.calls.count("GetSku") == asked + 1

    # The catalogue changes the SKU's price: a catalogue event drops it.
    fake.skus[sku].price.minor_units = 2500
    await inventory_events_published(
        "Sku",
        sku,
        inventory_events.SkuCreated(
            sku_id=sku, product_id="p-1", name=sku, price=money_pb2.Money(minor_units=2500, currency="CNY")
        ),
    )

    async def repriced() -> bool:
        return (await shown())["price"]["amount_minor"] == 2500

    await eventually(repriced)
    assert (await place("k-after-price-event"))["items"][0]["unit_price"]["amount_minor"] == 2500


async def test_when_the_broker_loses_its_data_the_cache_starts_empty_again(
    start_gateway: Any, make_settings: Any, fake: Any, tmp_path: Path
) -> None:
    own = TansuBroker(log_path=tmp_path / "tansu.log")  # this test restarts it: not the shared broker
    own.start()
    try:
        fake.add_sku("sku-a", price_minor=1990)
        gw = await start_gateway(make_settings(kafka_bootstrap=own.bootstrap, broker_epoch_check_s=0.2))
        feed = gw.app.state.resources.feed
        await asyncio.wait_for(feed.following.wait(), 30)
        _, auth = await gw.buyer("buyer@example.com")

        async def place(key: str) -> None:
            r = await gw.client.post("/v1/orders", json=order_body("sku-a"), headers={**auth, "Idempotency-Key": key})
            assert r.status_code == 201, r.text

        await place("k-1")
        await place("k-2")
        assert fake.calls.count("GetSku") == 1
        await asyncio.to_thread(own.restart_empty)  # every topic and record is gone, the epoch too

        async def started_again() -> bool:
            return feed.starts >= 2 and feed.following.is_set()

        await eventually(started_again, timeout=60)
        await place("k-3")
        assert fake.calls.count("GetSku") == 2  # the cache had been emptied
    finally:
        own.stop()


async def test_without_a_broker_the_cache_is_off_and_every_lookup_reaches_inventory(
    gw: Any, fake: Any
) -> None:
    fake.add_sku("sku-a", price_minor=1990)
    _, auth = await gw.buyer("buyer@example.com")
    for i in range(3):
        r = await gw.client.post("/v1/orders", json=order_body("sku-a"), headers={**auth, "Idempotency-Key": f"k{i}"})
        assert r.status_code == 201
    assert fake.calls.count("GetSku") == 3
    assert not gw.app.state.resources.catalogue.live
