"""An in-process cache in front of the Catalogue port, invalidated by inventory's events.

Guarantees:
- Entries are served only while the cache is *live*: while the invalidation feed (`inventory_feed`) is
  connected and follows inventory's topic from a known position. Otherwise every call goes to inventory.
- An event naming a SKU drops what it may have changed (stock, or price and stock) as soon as the feed
  reads it; a value fetched while an invalidation of it arrived is returned to its caller but not kept.
- Whatever happens to the feed, no entry outlives its TTL (prices and stock have their own).
- Unknown SKUs are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quanyi_gateway.application.model import CataloguePage, Sku, SkuStock
from quanyi_gateway.application.ports import Catalogue

# Pages are keyed by what clients ask for (limit, cursor): at most this many are kept.
_MAX_PAGES = 1024


@dataclass(frozen=True, slots=True)
class Invalidation:
    """What an event may have changed: the prices and the stock of some SKUs, or of all (`None`)."""

    prices: frozenset[str] | None = frozenset()
    stock: frozenset[str] | None = frozenset()

    @property
    def is_empty(self) -> bool:
        return self.prices == frozenset() and self.stock == frozenset()


class CachedCatalogue:
    """A Catalogue that keeps prices, stock and catalogue pages for a while (see the module's guarantees)."""

    def __init__(
        self,
        source: Catalogue,
        price_ttl_s: float,
        stock_ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._price_ttl = price_ttl_s
        self._stock_ttl = stock_ttl_s
        self._clock = clock
        self._live = False
        self._prices: dict[str, tuple[Sku, float]] = {}
        self._stock: dict[str, tuple[int, float]] = {}
        self._pages: dict[tuple[int, str | None], tuple[CataloguePage, float]] = {}
        # Invalidations seen so far, per SKU and of all SKUs, of prices, of stock, of pages. A fill keeps
        # its value only if no invalidation it depends on happened while it was in flight.
        self._price_gens: dict[str, int] = {}
        self._stock_gens: dict[str, int] = {}
        self._price_resets = 0
        self._stock_resets = 0
        self._pages_gen = 0
        self.hits = 0
        self.misses = 0

    @property
    def live(self) -> bool:
        return self._live

    def go_live(self) -> None:
        """The feed follows inventory's topic from now on: start empty and serve entries."""
        self.clear()
        self._live = True

    def go_dark(self) -> None:
        """The feed lost the topic (or the broker): forget everything and serve nothing until it is back."""
        self._live = False
        self.clear()

    def clear(self) -> None:
        self._price_resets += 1
        self._stock_resets += 1
        self._pages_gen += 1
        self._prices.clear()
        self._stock.clear()
        self._pages.clear()

    def invalidate(self, change: Invalidation) -> None:
        """Drop what an event may have changed. Pages show every SKU: any change drops them all."""
        if change.is_empty:
            return
        self._pages_gen += 1
        self._pages.clear()
        if change.prices is None:
            self._price_resets += 1
            self._prices.clear()
        else:
            for sku_id in change.prices:
                self._price_gens[sku_id] = self._price_gens.get(sku_id, 0) + 1
                self._prices.pop(sku_id, None)
        if change.stock is None:
            self._stock_resets += 1
            self._stock.clear()
        else:
            for sku_id in change.stock:
                self._stock_gens[sku_id] = self._stock_gens.get(sku_id, 0) + 1
                self._stock.pop(sku_id, None)

    def _price_gen(self, sku_id: str) -> tuple[int, int]:
        return self._price_resets, self._price_gens.get(sku_id, 0)

    def _stock_gen(self, sku_id: str) -> tuple[int, int]:
        return self._stock_resets, self._stock_gens.get(sku_id, 0)

    def _keep_price(self, sku: Sku, gen: tuple[int, int], now: float) -> None:
        if self._live and self._price_gen(sku.sku_id) == gen:
            self._prices[sku.sku_id] = (sku, now + self._price_ttl)

    def _keep_stock(self, sku_id: str, available: int, gen: tuple[int, int], now: float) -> None:
        if self._live and self._stock_gen(sku_id) == gen:
            self._stock[sku_id] = (available, now + self._stock_ttl)

    async def prices(self, sku_ids: Sequence[str]) -> dict[str, Sku]:
        if not self._live:
            return await self._source.prices(sku_ids)
        now = self._clock()
        found: dict[str, Sku] = {}
        missing: list[str] = []
        for sku_id in sku_ids:
            entry = self._prices.get(sku_id)
            if entry is not None and entry[1] > now:
                found[sku_id] = entry[0]
            else:
                missing.append(sku_id)
        if not missing:
            self.hits += 1
            return found
        self.misses += 1
        gens = {s: self._price_gen(s) for s in missing}
        fetched = await self._source.prices(missing)
        now = self._clock()
        for sku_id, sku in fetched.items():
            self._keep_price(sku, gens[sku_id], now)
        found.update(fetched)
        return {s: found[s] for s in sku_ids}

    async def sku(self, sku_id: str) -> SkuStock:
        if not self._live:
            return await self._source.sku(sku_id)
        now = self._clock()
        price = self._prices.get(sku_id)
        stock = self._stock.get(sku_id)
        if price is not None and stock is not None and price[1] > now and stock[1] > now:
            self.hits += 1
            return SkuStock(price[0], stock[0])
        self.misses += 1
        price_gen, stock_gen = self._price_gen(sku_id), self._stock_gen(sku_id)
        fresh = await self._source.sku(sku_id)
        now = self._clock()
        self._keep_price(fresh.sku, price_gen, now)
        self._keep_stock(sku_id, fresh.available, stock_gen, now)
        return fresh

    async def page(self, limit: int, cursor: str | None) -> CataloguePage:
        if not self._live:
            return await self._source.page(limit, cursor)
        now = self._clock()
        key = (limit, cursor)
        entry = self._pages.get(key)
        if entry is not None and entry[1] > now:
            self.hits += 1
            return entry[0]
        self.misses += 1
        gen = self._pages_gen
        fresh = await self._source.page(limit, cursor)
        now = self._clock()
        if self._live and self._pages_gen == gen:
            if len(self._pages) >= _MAX_PAGES:
                self._pages.clear()
            self._pages[key] = (fresh, now + min(self._stock_ttl, self._price_ttl))
        return fresh

