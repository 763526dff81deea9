import asyncio

import pytest
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_gateway.adapters.catalogue_cache import CachedCatalogue, Invalidation
from quanyi_gateway.adapters.inventory_feed import invalidation_for
from quanyi_gateway.adapters.memory import InMemoryCatalogue
from quanyi_gateway.application.errors import UnknownSku
from quanyi_platform.envelope import Envelope


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(source: InMemoryCatalogue, clock: Clock, live: bool = True) -> CachedCatalogue:
    cache = CachedCatalogue(source, price_ttl_s=60, stock_ttl_s=5, clock=clock)
    if live:
        cache.go_live()
    return cache


def stock_of(*sku_ids: str) -> Invalidation:
    return Invalidation(prices=frozenset(), stock=frozenset(sku_ids))


async def test_prices_are_asked_of_inventory_once_and_then_served_from_the_cache() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990)
    cache = cached(source, Clock())
    for _ in range(5):
        assert (await cache.prices(["a"]))["a"].price.amount_minor == 1990
    assert source.calls["prices"] == 1


async def test_a_cache_that_is_not_live_serves_nothing_from_memory() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990)
    cache = cached(source, Clock(), live=False)
    await cache.prices(["a"])
    await cache.prices(["a"])
    assert source.calls["prices"] == 2


async def test_going_dark_forgets_everything() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990)
    cache = cached(source, Clock())
    await cache.prices(["a"])
    cache.go_dark()
    source.put("a", 2990)
    cache.go_live()
    assert (await cache.prices(["a"]))["a"].price.amount_minor == 2990


async def test_a_stock_event_drops_the_stock_but_keeps_the_price() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990, available=7)
    cache = cached(source, Clock())
    assert (await cache.sku("a")).available == 7
    source.put("a", 1990, available=6)
    cache.invalidate(stock_of("a"))
    assert (await cache.sku("a")).available == 6
    await cache.prices(["a"])
    assert source.calls == {"sku": 2}


async def test_a_price_event_drops_the_price() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990)
    cache = cached(source, Clock())
    await cache.prices(["a"])
    source.put("a", 2500)
    cache.invalidate(Invalidation(prices=frozenset({"a"}), stock=frozenset({"a"})))
    assert (await cache.prices(["a"]))["a"].price.amount_minor == 2500


async def test_no_entry_outlives_its_ttl() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990, available=7)
    clock = Clock()
    cache = cached(source, clock)
    await cache.sku("a")
    source.put("a", 1990, available=3)
    clock.now += 5.01  # the stock TTL
    assert (await cache.sku("a")).available == 3
    source.put("a", 2500, available=3)
    clock.now += 59
    assert (await cache.prices(["a"]))["a"].price.amount_minor == 1990
    clock.now += 1.01  # the price TTL
    assert (await cache.prices(["a"]))["a"].price.amount_minor == 2500


async def test_a_value_fetched_while_it_was_invalidated_is_returned_but_not_kept() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990, available=7)
    cache = cached(source, Clock())
    gate = asyncio.Event()
    original = source.sku

    async def slow_sku(sku_id: str):  # type: ignore[no-untyped-def]
        found = await original(sku_id)
        await gate.wait()
        return found

    source.sku = slow_sku  # type: ignore[method-assign]
    pending = asyncio.create_task(cache.sku("a"))
    await asyncio.sleep(0)
    cache.invalidate(stock_of("a"))  # the event arrives while the old value is on its way
    gate.set()
    assert (await pending).available == 7
    source.sku = original  # type: ignore[method-assign]
    source.put("a", 1990, available=6)
    assert (await cache.sku("a")).available == 6


async def test_unknown_skus_are_not_cached() -> None:
    source = InMemoryCatalogue()
    cache = cached(source, Clock())
    for _ in range(2):
        with pytest.raises(UnknownSku):
            await cache.prices(["nope"])
    source.put("nope", 100)
    assert (await cache.prices(["nope"]))["nope"].price.amount_minor == 100


async def test_catalogue_pages_are_cached_and_any_change_drops_them() -> None:
    source = InMemoryCatalogue()
    source.put("a", 1990, available=7)
    cache = cached(source, Clock())
    await cache.page(50, None)
    await cache.page(50, None)
    assert source.calls["page"] == 1
    source.put("a", 1990, available=6)
    cache.invalidate(stock_of("a"))
    assert (await cache.page(50, None)).items[0].available == 6


def envelope(type_name: str, aggregate_type: str = "", aggregate_id: str = "") -> Envelope:
    return Envelope(event_id="e", type=type_name, aggregate_type=aggregate_type, aggregate_id=aggregate_id)


def test_a_key_reserved_event_invalidates_the_stock_of_its_skus_only() -> None:
    payload = inventory_events.KeyReserved(
        order_id="o-1",
        keys=[inventory_events.ReservedKey(key_id="k", sku_id="a"), inventory_events.ReservedKey(sku_id="b")],
    )
    change = invalidation_for(envelope("quanyi.inventory.v1.KeyReserved", "Order", "o-1"), payload)
    assert change == Invalidation(prices=frozenset(), stock=frozenset({"a", "b"}))


def test_a_stock_event_of_the_sku_aggregate_names_its_sku() -> None:
    payload = inventory_events.StockLow(sku_id="a", available=1, threshold=2)
    change = invalidation_for(envelope("quanyi.inventory.v1.StockLow", "SkuStock", "a"), payload)
    assert change == Invalidation(prices=frozenset(), stock=frozenset({"a"}))


def test_an_event_whose_type_names_the_catalogue_invalidates_price_and_stock() -> None:
    # Stands for a catalogue event inventory may add (a SKU created or repriced): any message naming a SKU.
    payload = inventory_events.KeysImported(sku_id="a", unit_cost=money_pb2.Money(minor_units=1, currency="CNY"))
    change = invalidation_for(envelope("quanyi.inventory.v1.SkuRepriced"), payload)
    assert change == Invalidation(prices=frozenset({"a"}), stock=frozenset({"a"}))


def test_a_catalogue_event_that_names_no_sku_invalidates_every_price() -> None:
    change = invalidation_for(envelope("quanyi.inventory.v1.ProductRenamed"), inventory_events.ShortLine())
    assert change == Invalidation(prices=None, stock=None)


def test_sku_created_invalidates_its_price_and_stock() -> None:
    payload = inventory_events.SkuCreated(sku_id="a", price=money_pb2.Money(minor_units=1, currency="CNY"))
    change = invalidation_for(envelope("quanyi.inventory.v1.SkuCreated", "Sku", "a"), payload)
    assert change == Invalidation(prices=frozenset({"a"}), stock=frozenset({"a"}))


def test_an_audit_record_of_a_reveal_invalidates_nothing() -> None:
    payload = inventory_events.KeysRevealed(reveal_id="r", order_id="o", key_ids=["k"])
    assert invalidation_for(envelope("quanyi.inventory.v1.KeysRevealed", "Reveal", "r"), payload).is_empty


def test_an_event_of_a_type_this_gateway_does_not_know_drops_everything() -> None:
    change = invalidation_for(envelope("quanyi.inventory.v1.SomethingNew"), None)
    assert change == Invalidation(prices=None, stock=None)
