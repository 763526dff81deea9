"""The app channel over real gRPC, Postgres and HTTP: DeliverOnChannel("app") pushes to the buyer's device
(its push token) through the push service (the simulator), telling it the order's keys are in the app —
never a key, since a push crosses the platform's push service. A push service that is down is retried,
then given up as DeliveryFailed (final, channel "app"), and a re-drive after it recovers pushes once. A
malformed device token is refused at once. The token is in no event or table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer
from quanyi_fulfillment.entrypoints.simulators import Faults, SimulatorState, start_simulators
from quanyi_platform import rpc
from quanyi_platform.infra.ports import free_port

FAILED = fulfillment_events.DeliveryFailed.DESCRIPTOR.full_name
CHANNEL_DELIVERED = fulfillment_events.ChannelDelivered.DESCRIPTOR.full_name
API_KEY = "push-api-key-test"
DEVICE = "fcm:dT3v1ce-t0ken_0123456789abcdef"


@pytest.fixture
async def push(world: Any) -> AsyncIterator[tuple[pb_grpc.FulfillmentServiceStub, SimulatorState]]:
    sim_port, grpc_port = free_port(), free_port()
    sim = SimulatorState(API_KEY, set(), timeout_s=2.0)
    runner = await start_simulators(sim, "127.0.0.1", sim_port)
    settings = type(world.settings).model_validate(world.settings.model_dump() | {
        "channel_max_attempts": 3, "channel_retry_base_s": 0.01, "channel_retry_cap_s": 0.05,
        "channel_timeout_s": 0.5, "push_api_url": f"http://127.0.0.1:{sim_port}", "push_api_key": API_KEY,
    })
    http = httpx.AsyncClient()
    servicer = FulfillmentServicer(
        world.uow, inventory=GrpcInventory(world.inventory_channel),
        senders=bootstrap.channel_senders(settings, http), contacts=GrpcContacts(world.gateway_channel),
    )
    server = rpc.server()
    pb_grpc.add_FulfillmentServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{grpc_port}", 30.0)
    try:
        yield pb_grpc.FulfillmentServiceStub(channel), sim
    finally:
        await channel.close()
        await server.stop(grace=None)
        await http.aclose()
        await runner.cleanup()


def ask(order_id: str, target: str = DEVICE) -> pb.DeliverOnChannelRequest:
    return pb.DeliverOnChannelRequest(order_id=order_id, channel="app", target=target, requested_by="buyer:b1")


async def test_the_app_channel_pushes_to_the_device_without_a_key_and_a_redrive_pushes_once(
    world: Any, push: tuple[pb_grpc.FulfillmentServiceStub, SimulatorState]
) -> None:
    client, sim = push
    reserved = world.reserve(keys=2)
    await world.handle(reserved.record)

    sim.faults["push"] = Faults("down")
    failed = await client.DeliverOnChannel(ask(reserved.order_id))
    assert (failed.delivered, failed.attempts) == (False, 3) and "503" in failed.reason
    assert sim.pushes == {}
    [(_, given_up)] = [(e, p) for e, p in await world.events(FAILED) if p.order_id == reserved.order_id]
    assert (given_up.final, given_up.channel) == (True, "app")

    sim.faults["push"] = Faults()
    sent = await client.DeliverOnChannel(ask(reserved.order_id))
    again = await client.DeliverOnChannel(ask(reserved.order_id))
    assert sent.delivered and again.delivered
    [pushed] = sim.pushes.values()  # one push per order, however often it is asked for
    assert pushed["device"] == DEVICE and pushed["data"] == {
        "action": "open_order", "order_id": reserved.order_id, "keys": 2,
    }
    assert not any(secret in json.dumps(pushed) for secret in reserved.secrets)
    delivered = [p.channel for _, p in await world.events(CHANNEL_DELIVERED) if p.order_id == reserved.order_id]
    assert delivered.count("app") == 2

    bad = await client.DeliverOnChannel(ask(reserved.order_id, "not a token"))
    assert (bad.delivered, bad.attempts, bad.reason) == (False, 1, "push service refused: invalid device")
    for table in ("events", "deliveries"):
        assert DEVICE not in repr(await world.rows(f"SELECT * FROM {table}"))


async def test_a_redrive_without_a_target_pushes_to_the_device_the_buyer_keeps_with_the_gateway(
    world: Any, push: tuple[pb_grpc.FulfillmentServiceStub, SimulatorState]
) -> None:
    client, sim = push
    reserved = world.reserve(keys=1, email="kept@example.com", buyer_id="buyer-kept")
    await world.handle(reserved.record)
    world.inventory.contacts.targets["buyer-kept"] = [("sms", "+8613800138000"), ("app", DEVICE)]
    sent = await client.DeliverOnChannel(ask(reserved.order_id, target=""))
    assert sent.delivered, sent.reason
    [pushed] = sim.pushes.values()
    assert pushed["device"] == DEVICE  # asked of the gateway at the moment of sending, kept nowhere here

    other = world.reserve(keys=1, email="plain@example.com", buyer_id="buyer-plain")  # keeps no device
    await world.handle(other.record)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.DeliverOnChannel(ask(other.order_id, target=""))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "keeps no app target" in (refused.value.details() or "")
    for table in ("events", "deliveries"):
        assert DEVICE not in repr(await world.rows(f"SELECT * FROM {table}"))
