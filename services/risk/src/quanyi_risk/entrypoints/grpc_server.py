"""Risk's gRPC API: translates requests into application calls and results into responses."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc

from quanyi_risk.adapters.proto import decision_to_proto
from quanyi_risk.application.ports import RiskUnitOfWork
from quanyi_risk.application.queries import get_decision


class RiskServicer(pb_grpc.RiskServiceServicer):
    def __init__(self, unit_of_work: Callable[[], RiskUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def GetDecision(
        self, request: pb.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDecisionResponse:
        if not request.order_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "order_id is required")
        found = await get_decision(self._unit_of_work(), request.order_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no decision for this order yet")
        assert found is not None  # abort raises
        return pb.GetDecisionResponse(
            order_id=found.order_id, decision=decision_to_proto(found.decision), reasons=list(found.reasons)
        )
