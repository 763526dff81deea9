"""GetSku's count of available keys: a row of the `stock` projection, exact as soon as a batch commits."""

from __future__ import annotations

from typing import Any

from quanyi_inventory.application.catalogue import get_sku

from .conftest import Pay, UowFactory


async def test_the_available_count_follows_every_allocation_at_once(
    uow: UowFactory, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    sku_id = await stock_sku(["S-1", "S-2", "S-3"])
    assert (await get_sku(uow(), sku_id)).available == 3
    await pay(paid("o-1", [(sku_id, 2)]))
    assert (await get_sku(uow(), sku_id)).available == 1
    await pay(paid("o-2", [(sku_id, 2)]))  # short: takes nothing
    assert (await get_sku(uow(), sku_id)).available == 1
