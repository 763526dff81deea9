"""Inventory's RevealKeys over gRPC, as the KeyRevealer the use cases need."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc

from quanyi_fulfillment.application.ports import InventoryUnavailable, RevealRefused
from quanyi_fulfillment.domain.delivery import RevealedSecret

ACTOR = "fulfillment"
PURPOSE = "delivery"

_TRANSIENT = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
})


class GrpcInventory:
    """Asks inventory for an order's keys in plaintext; inventory audits each reveal as
    (actor "fulfillment", purpose "delivery"). The answer is returned, never kept or logged."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = inventory_grpc.InventoryServiceStub(channel)

    async def reveal(self, order_id: str, key_ids: Sequence[str]) -> list[RevealedSecret]:
        request = inventory_pb.RevealKeysRequest(
            order_id=order_id, actor=ACTOR, purpose=PURPOSE, key_ids=list(key_ids)
        )
        try:
            response = await self._stub.RevealKeys(request)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT:
                raise InventoryUnavailable(f"inventory RevealKeys: {exc.code().name}") from exc
            raise RevealRefused(f"inventory RevealKeys: {exc.code().name}") from exc
        return [RevealedSecret(k.key_id, k.sku_id, k.code, k.password) for k in response.keys]
