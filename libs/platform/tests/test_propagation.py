"""Trace context and correlation id travel in gRPC metadata and Kafka headers; servers answer health checks."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
from aiokafka import AIOKafkaConsumer
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from psycopg import AsyncConnection
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import db, rpc, telemetry
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import BatchHandler, InboxConsumer, ReceivedEvent
from quanyi_platform.envelope import NewEvent, kafka_headers, seal
from quanyi_platform.eventstore import EventStore
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.relay import Relay

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


async def test_an_event_carries_its_trace_and_correlation_id_through_the_relay_broker_and_consumer(
    database_url: str, broker: Any
) -> None:
    topic = f"trace.{uuid.uuid4().hex[:8]}"
    settings = PlatformSettings(database_url=database_url, kafka_bootstrap=broker.bootstrap)
    await db.migrate(database_url, "trace_test", [])
    pool = await db.create_pool(database_url, "trace_test")
    await ensure_topics(settings, [topic])
    store = EventStore("orders", topic=topic)
    try:
        with trace.get_tracer("test").start_as_current_span("place order") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            async with pool.connection() as conn, conn.transaction():
                await store.append(
                    conn, [NewEvent("Order", "o-7", 1, orders_events.OrderPaid(order_id="o-7"), correlation_id="o-7")]
                )
        assert await Relay(pool, settings, topic).publish_batch() == 1

        reader = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        await reader.start()
        try:
            record = await asyncio.wait_for(reader.getone(), timeout=20)
        finally:
            await reader.stop()
        headers = dict(record.headers)
        assert headers["traceparent"].decode().split("-")[1] == trace_id
        assert headers["x-correlation-id"] == b"o-7"

        seen: list[tuple[str, str]] = []

        async def handler(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
            ctx = trace.get_current_span().get_span_context()
            seen.append((format(ctx.trace_id, "032x"), telemetry.correlation_id.get()))

        consumer = InboxConsumer(
            "trace-test", [topic],
            BatchHandler(frozenset({orders_events.OrderPaid.DESCRIPTOR.full_name}), handler), pool, settings,
        )
        assert await consumer.apply([record]) == 1
        assert seen == [(trace_id, "o-7")]  # the consumer's work is part of the order's trace
    finally:
        await pool.close()
