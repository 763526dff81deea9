"""The Stock port: SkuStock loaded from its projection, and locked for the unit of work."""

from __future__ import annotations

import asyncio

import pytest
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.domain.stock import SkuStock

from .conftest import Backend, import_codes, new_sku, pay


async def test_lock_returns_the_current_stock_of_known_skus_only(backend: Backend, keyring: Keyring) -> None:
    sku_id, pool_id = await new_sku(backend, threshold=2)
    await import_codes(backend, keyring, pool_id, ["A", "B", "C", "D"])
    await pay(backend, "o-1", (sku_id, 2))
    async with backend.uow() as uow:
        state = await uow.stock.lock([sku_id, "unknown"])
    assert state == {sku_id: SkuStock(sku_id, 2, available=2, reserved=2, low_stock_alerted=True, version=1)}


async def test_an_import_above_the_threshold_clears_the_alert_as_its_next_version(
    backend: Backend, keyring: Keyring
) -> None:
    sku_id, pool_id = await new_sku(backend, threshold=1)
    await import_codes(backend, keyring, pool_id, ["A", "B"])
    await pay(backend, "o-1", (sku_id, 1))
    await import_codes(backend, keyring, pool_id, ["C", "D"])
    async with backend.uow() as uow:
        state = await uow.stock.lock([sku_id])
    assert state[sku_id] == SkuStock(sku_id, 1, available=3, reserved=1, low_stock_alerted=False, version=2)
    assert await backend.committed_versions(sku_id) == [1, 1, 2]  # SkuCreated, StockLow, StockLowCleared


async def test_a_locked_sku_is_not_locked_by_another_unit_of_work_until_the_first_ends(backend: Backend) -> None:
    sku_id, _ = await new_sku(backend)
    first = backend.uow()
    await first.__aenter__()
    await first.stock.lock([sku_id])

    async def second() -> None:
        async with backend.uow() as uow:
            await uow.stock.lock([sku_id])

    waiting = asyncio.create_task(second())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting), 0.3)
    await first.__aexit__(None, None, None)
    await asyncio.wait_for(waiting, 10)
