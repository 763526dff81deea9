"""Risk's gRPC API."""

from __future__ import annotations

from typing import Any

import grpc
from psycopg_pool import AsyncConnectionPool
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def GetDecision(
        self, request: pb.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDecisionResponse:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT decision, reasons FROM decisions WHERE order_id = %s", (request.order_id,)
            )
            row: Any = await cur.fetchone()
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no decision for this order yet")
        return pb.GetDecisionResponse(
            order_id=request.order_id,
            decision=risk_events.Decision.Value(f"DECISION_{row['decision']}"),
            reasons=row["reasons"],
        )
