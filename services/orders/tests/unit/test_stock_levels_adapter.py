"""Orders' view of inventory's stock levels (adapters.inventory.GrpcStockLevels): a burst of placements asks
inventory once per SKU per cache period, and a SKU inventory cannot answer for is left out (placement goes on
with the caps alone) instead of failing the placement."""

from __future__ import annotations

from typing import Any

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi_orders.adapters.inventory import GrpcStockLevels


class Unavailable(grpc.aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down", None)


class Inventory:
    """GetSku as inventory answers it: `levels` per SKU; a SKU in `down` answers UNAVAILABLE."""

    def __init__(self, levels: dict[str, int], down: set[str]) -> None:
        self.levels, self.down, self.asked = levels, down, list[str]()

    async def GetSku(self, request: pb.GetSkuRequest, timeout: float | None = None) -> Any:
        self.asked.append(request.sku_id)
        if request.sku_id in self.down:
            raise Unavailable()
        return pb.GetSkuResponse(sku=pb.Sku(sku_id=request.sku_id, available=self.levels[request.sku_id]))


async def test_levels_are_asked_once_per_sku_per_cache_period_and_an_unanswered_sku_is_left_out() -> None:
    inventory = Inventory({"a": 5, "b": 0}, down={"c"})
    levels = GrpcStockLevels(inventory, cache_s=60)  # type: ignore[arg-type]
    assert await levels.available(["a", "b", "c"]) == {"a": 5, "b": 0}
    assert await levels.available(["a", "b"]) == {"a": 5, "b": 0}
    assert sorted(inventory.asked) == ["a", "b", "c"]  # the second call came from the cache
    inventory.down.clear()
    inventory.levels["c"] = 7
    assert await levels.available(["c"]) == {"c": 7}  # an unanswered SKU is asked again next time

    fresh = GrpcStockLevels(inventory, cache_s=0)  # type: ignore[arg-type]
    inventory.asked.clear()
    await fresh.available(["a"])
    await fresh.available(["a"])
    assert inventory.asked == ["a", "a"]
