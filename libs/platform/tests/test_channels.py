"""A new channel connects afresh: it does not inherit another channel's connection to the same address."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from quanyi_platform import rpc


async def _serve(port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = rpc.server()
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


async def _check(channel: grpc.aio.Channel) -> None:
    await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


async def _until(channel: grpc.aio.Channel, state: grpc.ChannelConnectivity) -> None:
    async with asyncio.timeout(10):
        while (now := channel.get_state()) != state:
            await channel.wait_for_state_change(now)


async def test_a_new_channel_reaches_a_new_server_on_the_address_another_channel_saw_refused() -> None:
    """A server stops while a channel to it stays open: that channel reconnects in back-off, refused. A new
    server takes the same port (as an ephemeral port is handed out again, or a service restarts on its
    address) and a new channel's first call, without waiting for readiness, reaches it. Through gRPC's
    process-wide subchannel pool the new channel shared the old one's connection in back-off and failed
    UNAVAILABLE 'Connection refused' at once."""
    first, port = await _serve()
    old = rpc.channel(f"127.0.0.1:{port}")
    try:
        await _check(old)
        await first.stop(None)
        await _until(old, grpc.ChannelConnectivity.TRANSIENT_FAILURE)
        second, _ = await _serve(port)
        try:
            async with rpc.channel(f"127.0.0.1:{port}") as new:
                await _check(new)
        finally:
            await second.stop(None)
    finally:
        await old.close()
