"""Inventory's RevealOrdersKeys (RevealKeys for an inventory without it) over gRPC, as the KeyRevealer the
use cases need."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc

from quanyi_fulfillment.application.ports import InventoryUnavailable, RevealOutcome, RevealRefused
from quanyi_fulfillment.domain.delivery import RevealedSecret

ACTOR = "fulfillment"
PURPOSE = "delivery"

_TRANSIENT = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
})
_CODES = {code.value[0]: code for code in grpc.StatusCode}

# After an inventory answered UNIMPLEMENTED (an older release, mid-rollout), ask it one order at a time
# for this long before trying the batched call again.
OLD_INVENTORY_RECHECK_S = 60.0


def _secrets(keys: Sequence[inventory_pb.RevealedKey]) -> list[RevealedSecret]:
    return [RevealedSecret(k.key_id, k.sku_id, k.code, k.password) for k in keys]


class GrpcInventory:
    """Asks inventory for orders' keys in plaintext; inventory audits each order's reveal as
    (actor "fulfillment", purpose "delivery"). The answer is returned, never kept or logged."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = inventory_grpc.InventoryServiceStub(channel)
        self._one_by_one_until = 0.0

    async def reveal_orders(self, orders: Sequence[tuple[str, Sequence[str]]]) -> list[RevealOutcome]:
        if not orders:
            return []
        if time.monotonic() < self._one_by_one_until:
            return await self._one_by_one(orders)
        request = inventory_pb.RevealOrdersKeysRequest(
            orders=[
                inventory_pb.RevealKeysRequest(order_id=o, actor=ACTOR, purpose=PURPOSE, key_ids=list(k))
                for o, k in orders
            ]
        )
        try:
            response = await self._stub.RevealOrdersKeys(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                self._one_by_one_until = time.monotonic() + OLD_INVENTORY_RECHECK_S
                return await self._one_by_one(orders)
            if exc.code() in _TRANSIENT:
                raise InventoryUnavailable(f"inventory RevealOrdersKeys: {exc.code().name}") from exc
            refused = RevealRefused(f"inventory RevealOrdersKeys: {exc.code().name}")
            return [refused for _ in orders]
        if len(response.orders) != len(orders):
            mismatch = RevealRefused("inventory RevealOrdersKeys: answered for other orders")
            return [mismatch for _ in orders]
        return [self._outcome(order_id, r) for (order_id, _), r in zip(orders, response.orders, strict=True)]

    @staticmethod
    def _outcome(order_id: str, result: inventory_pb.OrderKeysRevealed) -> RevealOutcome:
        if result.order_id != order_id:
            return RevealRefused("inventory RevealOrdersKeys: answered for another order")
        if result.status_code == grpc.StatusCode.OK.value[0]:
            return _secrets(result.keys)
        code = _CODES.get(result.status_code, grpc.StatusCode.UNKNOWN)
        if code in _TRANSIENT:
            return InventoryUnavailable(f"inventory RevealOrdersKeys: {code.name}")
        return RevealRefused(f"inventory RevealOrdersKeys: {code.name}")

    async def _one_by_one(self, orders: Sequence[tuple[str, Sequence[str]]]) -> list[RevealOutcome]:
        return list(await asyncio.gather(*(self._reveal(o, k) for o, k in orders)))

    async def _reveal(self, order_id: str, key_ids: Sequence[str]) -> RevealOutcome:
        request = inventory_pb.RevealKeysRequest(
            order_id=order_id, actor=ACTOR, purpose=PURPOSE, key_ids=list(key_ids)
        )
        try:
            response = await self._stub.RevealKeys(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT:
                return InventoryUnavailable(f"inventory RevealKeys: {exc.code().name}")
            return RevealRefused(f"inventory RevealKeys: {exc.code().name}")
        return _secrets(response.keys)
