"""The Catalogue port: products, SKUs and pools as their events created them, with live stock."""

from __future__ import annotations

from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.domain import catalogue as rules
from quanyi_inventory.domain.money import Money

from .conftest import Backend, import_codes, new_sku, pay


async def test_a_created_sku_reads_back_with_its_threshold_and_no_stock(backend: Backend) -> None:
    sku_id, pool_id = await new_sku(backend, threshold=4)
    async with backend.uow() as uow:
        sku = await uow.catalogue.sku(sku_id)
        pool = await uow.catalogue.pool(pool_id)
    assert sku is not None and pool is not None
    assert (sku.name, sku.price, sku.low_stock_threshold, sku.available) == ("Steam 100", Money(1000, "CNY"), 4, 0)
    assert (pool.sku_id, pool.name) == (sku_id, "main")
    async with backend.uow() as uow:
        assert await uow.catalogue.product_exists(sku.product_id)


async def test_a_skus_stock_follows_imports_and_reservations(backend: Backend, keyring: Keyring) -> None:
    sku_id, pool_id = await new_sku(backend)
    await import_codes(backend, keyring, pool_id, ["A", "B", "C"])
    await pay(backend, "o-1", (sku_id, 2))
    async with backend.uow() as uow:
        sku = await uow.catalogue.sku(sku_id)
    assert sku is not None and sku.available == 1


async def test_unknown_products_skus_and_pools_are_not_found(backend: Backend) -> None:
    async with backend.uow() as uow:
        assert not await uow.catalogue.product_exists("nope")
        assert await uow.catalogue.sku("nope") is None
        assert await uow.catalogue.pool("nope") is None


async def test_a_product_created_in_the_unit_of_work_is_seen_by_it_and_by_no_other_until_commit(
    backend: Backend,
) -> None:
    recorded = rules.create_product("p-new", "New", "")
    async with backend.uow() as uow:
        await uow.record([recorded])
        assert await uow.catalogue.product_exists("p-new")
        async with backend.uow() as other:
            assert not await other.catalogue.product_exists("p-new")
    async with backend.uow() as uow:
        assert not await uow.catalogue.product_exists("p-new")


async def test_skus_page_in_id_order_after_a_given_id(backend: Backend) -> None:
    ids = sorted([(await new_sku(backend, name=f"S{i}"))[0] for i in range(5)])
    async with backend.uow() as uow:
        first = await uow.catalogue.skus_after("", 2)
        rest = await uow.catalogue.skus_after(first[-1].sku_id, 10)
    assert [s.sku_id for s in first] == ids[:2]
    assert [s.sku_id for s in rest] == ids[2:]
