"""Catalogue use cases: products, SKUs and pools are created by events and read from their projections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork, Pool, Sku
from quanyi_inventory.domain import catalogue
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.events import (
    BundleComponent,
    Entitlement,
    PoolCreated,
    ProductCreated,
    SkuCreated,
)
from quanyi_inventory.domain.money import Money
from quanyi_inventory.domain.stock import StockMoves


async def create_product(uow: InventoryUnitOfWork, *, name: str, kind: str) -> ProductCreated:
    """Record ProductCreated for a new product."""
    recorded = catalogue.create_product(new_event_id(), name, kind)
    async with uow:
        await uow.record([recorded], Context(correlation_id=recorded.aggregate_id))
        await uow.commit()
    assert isinstance(recorded.event, ProductCreated)
    return recorded.event


async def create_sku(
    uow: InventoryUnitOfWork,
    *,
    product_id: str,
    name: str,
    price: Money,
    low_stock_threshold: int,
    allocation_strategy: str = "fifo",
    components: Sequence[BundleComponent] = (),
    entitlements: Sequence[Entitlement] = (),
) -> Sku:
    """Record SkuCreated for a new SKU of an existing product; it starts with no keys. With `components`
    it is a bundle of those SKUs' keys (BundleDefined in the same unit of work); they must exist and not
    be bundles themselves. `entitlements` are its points and membership components (a bundle may be
    made of those only)."""
    recorded = [catalogue.create_sku(
        new_event_id(), product_id, name, price, low_stock_threshold, allocation_strategy
    )]
    sku_id = recorded[0].aggregate_id
    if components or entitlements:
        recorded.append(catalogue.define_bundle(sku_id, components, entitlements))
    async with uow:
        if not await uow.catalogue.product_exists(product_id):
            raise NotFound("no such product")
        for component in components:
            if await uow.catalogue.sku(component.sku_id) is None:
                raise NotFound("no such component SKU")
        parts = [c.sku_id for c in components]
        if parts and await uow.catalogue.bundles(parts):
            raise InvalidInput("a bundle's components must not be bundles")
        await uow.record(recorded, Context(correlation_id=sku_id))
        await uow.commit()
    sku = recorded[0].event
    assert isinstance(sku, SkuCreated)
    return Sku(sku.sku_id, sku.product_id, sku.name, sku.price, sku.low_stock_threshold, 0)


async def create_pool(uow: InventoryUnitOfWork, *, sku_id: str, name: str, priority: int = 0) -> Pool:
    """Record PoolCreated for a new key pool of an existing SKU, drawn from in ascending `priority`."""
    recorded = catalogue.create_pool(new_event_id(), sku_id, name, priority)
    async with uow:
        if await uow.catalogue.sku(sku_id) is None:
            raise NotFound("no such SKU")
        await uow.record([recorded], Context(correlation_id=recorded.aggregate_id))
        await uow.commit()
    pool = recorded.event
    assert isinstance(pool, PoolCreated)
    return Pool(pool.pool_id, pool.sku_id, pool.name, pool.priority)


async def set_pool_priority(uow: InventoryUnitOfWork, *, pool_id: str, priority: int) -> Pool:
    """Record PoolPriorityChanged: the pool's SKU draws from it at this priority from now on. Two changes
    of one pool at once conflict on its version (ConcurrencyConflict); retried, the later one wins."""
    async with uow:
        pool = await uow.catalogue.pool(pool_id)
        if pool is None:
            raise NotFound("no such pool")
        recorded = catalogue.change_pool_priority(pool_id, pool.sku_id, pool.version, priority)
        await uow.record([recorded], Context(correlation_id=pool_id))
        await uow.commit()
    return Pool(pool.pool_id, pool.sku_id, pool.name, priority, pool.version + 1)


async def set_low_stock_threshold(uow: InventoryUnitOfWork, *, sku_id: str, threshold: int) -> Sku:
    """Record LowStockThresholdSet: the SKU is reported low when its available keys fall to `threshold`
    from now on (0: never). Two changes of one SKU at once conflict on its version (ConcurrencyConflict)."""
    async with uow:
        sku = await uow.catalogue.sku(sku_id)
        if sku is None:
            raise NotFound("no such SKU")
        recorded = catalogue.set_low_stock_threshold(sku_id, sku.version, threshold)
        await uow.record([recorded], Context(correlation_id=sku_id))
        await uow.commit()
    return replace(sku, low_stock_threshold=threshold, version=sku.version + 1)


@dataclass(frozen=True)
class StockDay:
    """A SKU's available keys at the end of a UTC day and what moved them that day."""

    day: date
    available: int
    moves: StockMoves


async def stock_history(uow: InventoryUnitOfWork, *, sku_id: str, first: str, last: str) -> list[StockDay]:
    """Every day from `first` to `last` (YYYY-MM-DD, UTC), oldest first, a day without moves too: the
    SKU's burn-down. Two rows read, however long the SKU's history."""
    start, end = catalogue.history_range(first, last)
    async with uow:
        if await uow.catalogue.sku(sku_id) is None:
            raise NotFound("no such SKU")
        available, moved = await uow.catalogue.stock_days(sku_id, start, end)
    days = []
    for n in range((end - start).days + 1):
        day = start + timedelta(days=n)
        moves = moved.get(day, StockMoves())
        available += moves.change
        days.append(StockDay(day, available, moves))
    return days


async def get_sku(uow: InventoryUnitOfWork, sku_id: str) -> Sku:
    """The SKU with its available keys now (a projection: one row read, however large the pool)."""
    async with uow:
        sku = await uow.catalogue.sku(sku_id)
    if sku is None:
        raise NotFound("no such SKU")
    return sku


@dataclass(frozen=True)
class SkuPage:
    skus: list[Sku]
    next_page_token: str


async def list_skus(uow: InventoryUnitOfWork, *, page_size: int, page_token: str) -> SkuPage:
    """One page of SKUs in id order (ids are UUIDv7, so oldest first); the token is the last id shown."""
    size = catalogue.page_size(page_size)
    after = catalogue.page_token(page_token)
    async with uow:
        skus = await uow.catalogue.skus_after(after, size + 1)
    more = len(skus) > size
    skus = skus[:size]
    return SkuPage(skus, skus[-1].sku_id if more else "")
