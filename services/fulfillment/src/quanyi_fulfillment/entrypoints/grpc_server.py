"""Fulfillment's gRPC API: translate requests, call the use cases, map errors to status codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_platform.eventstore import EventStore, in_transaction

from quanyi_fulfillment.adapters import mappers
from quanyi_fulfillment.adapters import repository as repo
from quanyi_fulfillment.application.redeem import RedemptionResult, record_redemption
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidRedemption
from quanyi_fulfillment.domain.redemption import parse_report


class FulfillmentServicer(pb_grpc.FulfillmentServiceServicer):
    def __init__(self, pool: AsyncConnectionPool, store: EventStore) -> None:
        self._pool = pool
        self._store = store

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeliveriesResponse:
        if not request.buyer_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "buyer_id is required")
        async with self._pool.connection() as conn:
            rows = await repo.list_deliveries(conn, request.buyer_id, request.order_id or None)
        return pb.ListDeliveriesResponse(deliveries=[mappers.delivery(r) for r in rows])

    async def RecordRedemption(
        self, request: pb.RecordRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordRedemptionResponse:
        try:
            report = parse_report(request.key_id, request.partner, request.redeemed_at, datetime.now(UTC))
        except InvalidRedemption as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        async def work(conn: AsyncConnection[Any]) -> RedemptionResult:
            return await record_redemption(conn, self._store, report)

        try:
            result = await in_transaction(self._pool, work)
        except DeliveryNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no delivered key with this id")
        return pb.RecordRedemptionResponse(
            delivery=mappers.delivery(result.delivery), duplicate=result.duplicate
        )
