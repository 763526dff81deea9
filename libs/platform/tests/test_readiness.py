"""A service reports itself ready only once its consumers have joined their groups."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg_pool import AsyncConnectionPool
from quanyi_platform import db, rpc, service
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import BatchHandler, InboxConsumer, ReceivedEvent
from quanyi_platform.testing.fixtures import Broker

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, "ready_test", [])
    p = await db.create_pool(database_url, "ready_test")
    yield p
    await p.close()


async def _status(stub: health_pb2_grpc.HealthStub, name: str) -> Any:
    try:
        return (await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)).status
    except grpc.aio.AioRpcError as exc:
        return exc.code()


async def test_ready_only_after_the_consumer_has_its_partitions(
    broker: Broker, database_url: str, pool: AsyncConnectionPool
) -> None:
    settings = PlatformSettings(
        database_url=database_url, kafka_bootstrap=broker.bootstrap, kafka_session_timeout_ms=6000
    )

    async def ignore(conn: Any, events: list[ReceivedEvent]) -> None:
        return None

    consumer = InboxConsumer(f"ready-{uuid.uuid4().hex[:8]}", [f"ready.{uuid.uuid4().hex[:8]}"],
                             BatchHandler(frozenset({"x"}), ignore), pool, settings)
    server = rpc.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    running = asyncio.create_task(service.run_service("ready-test", server, [consumer.run()], ready=[consumer.ready]))
    try:
        # Alive at once; not ready while the group forms (it takes a few seconds on any broker).
        assert await _status(stub, "") == SERVING
        assert await _status(stub, rpc.READY) == grpc.StatusCode.NOT_FOUND
        assert not await rpc.is_ready(channel, 2)
        for _ in range(300):
            if await rpc.is_ready(channel, 2):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("not ready within 30 s")
        assert consumer.ready.is_set()
        assert await _status(stub, rpc.READY) == SERVING
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await channel.close()
