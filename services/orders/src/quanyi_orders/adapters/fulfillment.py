"""Fulfillment's gRPC API as orders' Deliveries port."""

from __future__ import annotations

import grpc
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc

from quanyi_orders.application.ports import ChannelOutcome, Deliveries, DeliveriesUnavailable
from quanyi_orders.domain.errors import InvalidOrder, NotAllowed

#: A channel retries within its own bounded time (fulfillment's QUANYI_CHANNEL_TOTAL_S, 45 s by default).
DELIVER_TIMEOUT_S = 180.0
#: Fulfillment's record of an order's keys is a refund's first check only (inventory's record decides): a
#: refund does not wait long for it, and answers within its caller's deadline when fulfillment is down.
OF_ORDER_TIMEOUT_S = 2.0


class GrpcDeliveries(Deliveries):
    def __init__(self, stub: pb_grpc.FulfillmentServiceStub) -> None:
        self._stub = stub

    async def of_order(self, buyer_id: str, order_id: str) -> list[tuple[str, bool]]:
        request = pb.ListDeliveriesRequest(buyer_id=buyer_id, order_id=order_id)
        try:
            reply = await self._stub.ListDeliveries(request, timeout=OF_ORDER_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise DeliveriesUnavailable(exc.code().name) from None
            raise
        return [(d.sku_id, bool(d.redeemed_at)) for d in reply.deliveries]

    async def deliver(self, order_id: str, channel: str, target: str, requested_by: str) -> ChannelOutcome:
        request = pb.DeliverOnChannelRequest(
            order_id=order_id, channel=channel, target=target, requested_by=requested_by
        )
        try:
            reply = await self._stub.DeliverOnChannel(request, timeout=DELIVER_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidOrder(exc.details() or "fulfillment refused the channel") from None
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotAllowed("the order has no delivered keys to send on a channel") from None
            raise
        return ChannelOutcome(reply.delivered, reply.attempts, reply.reason)
