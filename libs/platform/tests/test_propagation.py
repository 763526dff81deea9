"""Trace context and correlation id travel in gRPC metadata and Kafka headers; servers answer health checks."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc, telemetry
from quanyi_platform.envelope import NewEvent, kafka_headers, seal

telemetry.setup_tracing("test")


class _Echo(pb_grpc.RiskServiceServicer):
    """Answers with what the server saw: the trace id and correlation id of the caller."""

    async def GetDecision(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        span = trace.get_current_span().get_span_context()
        return pb.GetDecisionResponse(
            order_id=request.order_id, reasons=[format(span.trace_id, "032x"), telemetry.correlation_id.get()]
        )


async def test_a_grpc_call_carries_the_callers_trace_and_correlation_id() -> None:
    server = rpc.server()
    pb_grpc.add_RiskServiceServicer_to_server(_Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with rpc.channel(f"127.0.0.1:{port}") as channel:
            token = telemetry.correlation_id.set("order-42")
            try:
                with trace.get_tracer("test").start_as_current_span("caller") as span:
                    reply = await pb_grpc.RiskServiceStub(channel).GetDecision(pb.GetDecisionRequest(order_id="o"))
                    caller_trace = format(span.get_span_context().trace_id, "032x")
            finally:
                telemetry.correlation_id.reset(token)
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    finally:
        await server.stop(0)
    assert list(reply.reasons) == [caller_trace, "order-42"]
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_an_event_sealed_inside_a_span_carries_its_traceparent_in_envelope_and_headers() -> None:
    with trace.get_tracer("test").start_as_current_span("handler") as span:
        env = seal(NewEvent("Order", "o1", 1, orders_events.OrderPaid(order_id="o1"), correlation_id="o1"), "orders")
        trace_id = format(span.get_span_context().trace_id, "032x")
    headers = dict(kafka_headers(env))
    assert env.traceparent.split("-")[1] == trace_id
    assert headers["traceparent"] == env.traceparent.encode()
    assert headers["x-correlation-id"] == b"o1"
    assert headers["type"] == b"quanyi.orders.v1.OrderPaid"
