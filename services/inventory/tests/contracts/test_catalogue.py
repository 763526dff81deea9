"""The Catalogue port: products, SKUs and pools as their events created them, with live stock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application import catalogue
from quanyi_inventory.domain import catalogue as rules
from quanyi_inventory.domain.errors import InvalidInput, NotFound
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


async def test_a_set_threshold_reads_back_and_the_sku_is_reported_low_at_it(
    backend: Backend, keyring: Keyring
) -> None:
    sku_id, pool_id = await new_sku(backend, threshold=0)
    await import_codes(backend, keyring, pool_id, ["A", "B", "C", "D"])
    set_ = await catalogue.set_low_stock_threshold(backend.uow(), sku_id=sku_id, threshold=3)
    assert (set_.low_stock_threshold, set_.version) == (3, 2)
    await catalogue.set_low_stock_threshold(backend.uow(), sku_id=sku_id, threshold=2)
    async with backend.uow() as uow:
        sku = await uow.catalogue.sku(sku_id)
        stock = await uow.stock.lock([sku_id])
    assert sku is not None and (sku.low_stock_threshold, sku.version) == (2, 3)
    assert stock[sku_id].low_stock_threshold == 2
    assert await backend.committed_versions(sku_id) == [1, 2, 3]
    await pay(backend, "o-1", (sku_id, 2))
    async with backend.uow() as uow:
        assert (await uow.stock.lock([sku_id]))[sku_id].low_stock_alerted


async def test_a_threshold_is_refused_below_zero_and_for_an_unknown_sku(backend: Backend) -> None:
    sku_id, _ = await new_sku(backend, threshold=5)
    with pytest.raises(InvalidInput):
        await catalogue.set_low_stock_threshold(backend.uow(), sku_id=sku_id, threshold=-1)
    with pytest.raises(NotFound):
        await catalogue.set_low_stock_threshold(backend.uow(), sku_id="nope", threshold=1)
    assert await backend.committed_versions(sku_id) == [1]


async def test_a_skus_stock_history_is_every_day_of_the_range_ending_at_its_available_keys(
    backend: Backend, keyring: Keyring
) -> None:
    sku_id, pool_id = await new_sku(backend)
    await import_codes(backend, keyring, pool_id, ["A", "B", "C", "D", "E"])
    await pay(backend, "o-1", (sku_id, 2))
    today = datetime.now(UTC).date()
    days = await catalogue.stock_history(
        backend.uow(), sku_id=sku_id, first=(today - timedelta(days=2)).isoformat(), last=today.isoformat()
    )
    assert [d.day for d in days] == [today - timedelta(days=n) for n in (2, 1, 0)]
    assert [d.available for d in days] == [0, 0, 3]
    assert (days[-1].moves.imported, days[-1].moves.reserved) == (5, 2)
    # A range that starts after today's moves opens with them.
    later = await catalogue.stock_history(
        backend.uow(), sku_id=sku_id, first=(today + timedelta(days=1)).isoformat(),
        last=(today + timedelta(days=1)).isoformat(),
    )
    assert [(d.available, d.moves.change) for d in later] == [(3, 0)]


@pytest.mark.parametrize(("first", "last"), [("2026-12-02", "2026-12-01"), ("2025-01-01", "2026-12-01"),
                                             ("yesterday", "2026-12-01")])
async def test_a_stock_history_range_that_is_backwards_too_long_or_not_days_is_refused(
    backend: Backend, first: str, last: str
) -> None:
    sku_id, _ = await new_sku(backend)
    with pytest.raises(InvalidInput):
        await catalogue.stock_history(backend.uow(), sku_id=sku_id, first=first, last=last)
