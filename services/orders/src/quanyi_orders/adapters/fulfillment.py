"""Fulfillment's gRPC API as orders' Deliveries port."""

from __future__ import annotations

from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc

from quanyi_orders.application.ports import Deliveries


class GrpcDeliveries(Deliveries):
    def __init__(self, stub: pb_grpc.FulfillmentServiceStub) -> None:
        self._stub = stub

    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        request = pb.ListDeliveriesRequest(buyer_id=buyer_id, order_id=order_id)
        reply = await self._stub.ListDeliveries(request)
        return [(d.sku_id, bool(d.redeemed_at)) for d in reply.deliveries]
