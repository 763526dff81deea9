"""Inventory's gRPC API as orders' StockLevels port: each SKU's available units, cached for a moment."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from quanyi_orders.application.ports import StockLevels

log = logging.getLogger(__name__)


class GrpcStockLevels(StockLevels):
    """GetSku per SKU, at most one call per SKU every `cache_s` seconds (a placement burst on one SKU asks
    once), each bounded by `deadline_s`. A SKU inventory cannot answer for is left out, so placement goes
    on with the caps alone rather than stopping while inventory is away."""

    def __init__(
        self, stub: pb_grpc.InventoryServiceStub, cache_s: float = 1.0, deadline_s: float = 1.0
    ) -> None:
        self._stub = stub
        self._cache_s = cache_s
        self._deadline_s = deadline_s
        self._cache: dict[str, tuple[float, int]] = {}

    async def _ask(self, sku_id: str) -> int | None:
        try:
            reply: pb.GetSkuResponse = await self._stub.GetSku(
                pb.GetSkuRequest(sku_id=sku_id), timeout=self._deadline_s
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("stock level unknown: placement goes on with the caps alone",
                        extra={"sku_id": sku_id, "grpc_code": exc.code().name})
            return None
        return int(reply.sku.available)

    async def available(self, sku_ids: Sequence[str]) -> dict[str, int]:
        now = time.monotonic()
        found = {s: hit[1] for s in sku_ids if (hit := self._cache.get(s)) and now - hit[0] < self._cache_s}
        missing = [s for s in dict.fromkeys(sku_ids) if s not in found]
        for sku_id, level in zip(missing, await asyncio.gather(*map(self._ask, missing)), strict=True):
            if level is not None:
                self._cache[sku_id] = (now, level)
                found[sku_id] = level
        return found
