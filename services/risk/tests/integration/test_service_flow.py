"""`python -m quanyi_risk` as a process on the real broker and Postgres: OrderPlaced in, decisions out over
gRPC and the topic, and its projections rebuilt from its events equal live (I6)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from aiokafka import AIOKafkaProducer
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi.risk.v1 import risk_service_pb2 as pb
from quanyi.risk.v1 import risk_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import NewEvent, kafka_headers, seal
from quanyi_platform.eventstore import topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.testing.replay import assert_replay_matches_live

LIMIT = 3


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


def placed(order_id: str, buyer_id: str, at: datetime) -> NewEvent:
    return NewEvent(
        "Order", order_id, 1, orders_events.OrderPlaced(order_id=order_id, buyer_id=buyer_id, channel="web"),
        correlation_id=order_id, occurred_at=at,
    )


async def test_the_service_decides_placed_orders_and_its_projections_replay_to_live(
    broker: Any, database_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    t0 = datetime.now(UTC)
    # One buyer orders once too often within a minute; others order within the limit; one buyer's orders
    # are a minute apart and never count together.
    fast = [placed(f"{run}-fast-{i}", f"{run}-fast", t0 + timedelta(seconds=i)) for i in range(LIMIT + 1)]
    calm = [placed(f"{run}-calm-{b}-{i}", f"{run}-calm-{b}", t0 + timedelta(seconds=i)) for b in range(5) for i in range(2)]
    spread = [placed(f"{run}-spread-{i}", f"{run}-spread", t0 + timedelta(seconds=61 * i)) for i in range(LIMIT + 2)]
    orders = [*fast, *calm, *spread]

    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QUANYI_DATABASE_URL": database_url,
        "QUANYI_KAFKA_BOOTSTRAP": broker.bootstrap,
        "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "QUANYI_RISK_GRPC_LISTEN": listen,
        "QUANYI_RISK_MAX_ORDERS_PER_MINUTE": str(LIMIT),
    }
    await ensure_topics(PlatformSettings(kafka_bootstrap=broker.bootstrap), [topic_for("orders"), topic_for("risk")])
    log_path = tmp_path / "risk.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "quanyi_risk"], env=env, stdout=log, stderr=subprocess.STDOUT)
    channel = rpc.channel(listen, 5.0)
    try:
        stub = pb_grpc.RiskServiceStub(channel)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for ev in [*orders, fast[0]]:  # the first order is delivered twice
                env_ = seal(ev, "orders")
                await producer.send_and_wait(
                    topic_for("orders"), env_.SerializeToString(), key=ev.aggregate_id.encode(),
                    headers=kafka_headers(env_),
                )
        finally:
            await producer.stop()

        async def decision(order_id: str) -> pb.GetDecisionResponse | None:
            try:
                r: pb.GetDecisionResponse = await stub.GetDecision(
                    pb.GetDecisionRequest(order_id=order_id), wait_for_ready=True
                )
                return r
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise

        async def all_decided() -> bool:
            return all([await decision(ev.aggregate_id) is not None for ev in orders])

        await eventually(all_decided)
        decided = {ev.aggregate_id: await decision(ev.aggregate_id) for ev in orders}
        held = [o for o, d in decided.items() if d is not None and d.decision == risk_events.DECISION_REVIEW]
        # Orders are keyed by order id, so the fast buyer's may arrive in any order: the last to arrive
        # is the one too many.
        assert len(held) == 1 and held[0].startswith(f"{run}-fast-"), decided
        assert f"{LIMIT + 1} orders in 60s" in decided[held[0]].reasons[0]  # type: ignore[union-attr]
        try:
            await stub.GetDecision(pb.GetDecisionRequest(order_id=""))
            raise AssertionError("an empty order id was answered")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT

        await assert_replay_matches_live(database_url, "risk", kafka_bootstrap=broker.bootstrap)
    finally:
        await channel.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "the service did not stop cleanly on SIGTERM"
    assert "consumer started" in log_path.read_text()
