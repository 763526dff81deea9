"""On-demand delivery channels over real gRPC, Postgres and HTTP: DeliverOnChannel sends an order's keys by
signed webhook (a real aiohttp receiver), SMS and one-click activation (the partner top-up and SMS
simulators on a local port). A partner outage is retried, then given up as DeliveryFailed (final, with the
channel), and a re-drive after recovery credits each key exactly once. The target is in no event or table.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from aiohttp import web
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.domain.webhook import SIGNATURE_HEADER, verify
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer
from quanyi_fulfillment.entrypoints.simulators import Faults, SimulatorState, start_simulators
from quanyi_platform import rpc
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name
CHANNEL_DELIVERED = fulfillment_events.ChannelDelivered.DESCRIPTOR.full_name
CHANNEL_REQUESTED = fulfillment_events.ChannelRequested.DESCRIPTOR.full_name
FAILED = fulfillment_events.DeliveryFailed.DESCRIPTOR.full_name
SECRET = "whsec-channels-test"
API_KEY = "partner-api-key-test"
ACCOUNT = "acct-10086"
PHONE = "+8613800138000"


@dataclass
class Channels:
    client: pb_grpc.FulfillmentServiceStub
    sim: SimulatorState
    sim_url: str
    hooks: list[tuple[dict[str, str], bytes]]
    hook_url: str


@pytest.fixture
async def channels(world: Any) -> AsyncIterator[Channels]:
    sim_port, hook_port, grpc_port = free_port(), free_port(), free_port()
    sim = SimulatorState(API_KEY, {ACCOUNT}, timeout_s=2.0)
    sim_runner = await start_simulators(sim, "127.0.0.1", sim_port)
    hooks: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        hooks.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/buyer/hook", receive)
    hook_runner = web.AppRunner(app)
    await hook_runner.setup()
    await web.TCPSite(hook_runner, "127.0.0.1", hook_port).start()

    sim_url = f"http://127.0.0.1:{sim_port}"
    settings = type(world.settings).model_validate(world.settings.model_dump() | {
        "channel_max_attempts": 4, "channel_retry_base_s": 0.01, "channel_retry_cap_s": 0.05,
        "channel_timeout_s": 0.5, "webhook_signing_secret": SECRET, "partner_api_url": sim_url,
        "partner_api_key": API_KEY, "sms_api_url": sim_url, "sms_api_key": API_KEY,
        "sku_instructions": {"sku-gold": "Open the Gold app, Me > Redeem, paste the code."},
    })
    http = httpx.AsyncClient()
    servicer = FulfillmentServicer(
        world.uow, inventory=GrpcInventory(world.inventory_channel),
        senders=bootstrap.channel_senders(settings, http), instructions=settings.sku_instructions,
    )
    server = rpc.server()
    pb_grpc.add_FulfillmentServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{grpc_port}", 30.0)
    try:
        yield Channels(
            pb_grpc.FulfillmentServiceStub(channel), sim, sim_url, hooks, f"http://127.0.0.1:{hook_port}/buyer/hook"
        )
    finally:
        await channel.close()
        await server.stop(grace=None)
        await http.aclose()
        await hook_runner.cleanup()
        await sim_runner.cleanup()


async def _delivered(world: Any, keys: int = 2) -> Any:
    reserved = world.reserve(keys=keys)
    await world.handle(reserved.record)
    return reserved


def ask(order_id: str, channel: str, target: str, by: str = "operator:alice") -> pb.DeliverOnChannelRequest:
    return pb.DeliverOnChannelRequest(order_id=order_id, channel=channel, target=target, requested_by=by)


async def test_each_channel_delivers_the_keys_with_the_skus_instructions_and_is_announced_once_it_succeeded(
    world: Any, channels: Channels, smtp_server: CapturingSmtpServer
) -> None:
    reserved = await _delivered(world)

    hook = await channels.client.DeliverOnChannel(ask(reserved.order_id, "webhook", channels.hook_url, "buyer:b1"))
    sms = await channels.client.DeliverOnChannel(ask(reserved.order_id, "sms", PHONE))
    topup = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))

    assert (hook.delivered, hook.attempts) == (True, 1)
    assert (sms.delivered, sms.attempts) == (True, 1)
    assert (topup.delivered, topup.attempts) == (True, 2)  # one top-up per key
    [(headers, body)] = channels.hooks
    assert verify(SECRET.encode(), headers[SIGNATURE_HEADER], body, int(time.time()))
    document = json.loads(body)
    assert sorted(k["code"] for k in document["keys"]) == sorted(reserved.codes)
    assert {k["instructions"] for k in document["keys"]} == {"Open the Gold app, Me > Redeem, paste the code."}
    [message] = channels.sim.messages
    assert message["to"] == PHONE and all(c in message["text"] for c in reserved.codes)
    assert "Open the Gold app" in message["text"]
    assert sorted(t["code"] for t in channels.sim.topups.values()) == sorted(reserved.codes)
    assert {t["account"] for t in channels.sim.topups.values()} == {ACCOUNT}

    [(_, delivered)] = await world.events(DELIVERED)
    assert list(delivered.channels) == ["user_center"]
    announced = [(p.channel, p.order_id) for _, p in await world.events(CHANNEL_DELIVERED)]
    assert sorted(announced) == sorted((c, reserved.order_id) for c in ("webhook", "sms", "activation"))
    requested = [(e.aggregate_version, p.channel, p.requested_by) for e, p in await world.events(CHANNEL_REQUESTED)]
    assert sorted(requested) == [(1, "activation", "operator:alice"), (1, "sms", "operator:alice"),
                                 (1, "webhook", "buyer:b1")]
    await world.assert_no_plaintext([*reserved.secrets, PHONE, ACCOUNT, channels.hook_url, "/buyer/hook"])


async def test_partner_down_retries_gives_up_as_delivery_failed_and_a_redrive_after_recovery_credits_once(
    world: Any, channels: Channels, smtp_server: CapturingSmtpServer
) -> None:
    reserved = await _delivered(world, keys=2)
    channels.sim.faults["partner"] = Faults("down")  # 503 until reset

    failed = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))

    assert (failed.delivered, failed.attempts) == (False, 4)
    assert failed.reason == "partner answered HTTP 503"
    assert channels.sim.requests["partner"] == 4 and channels.sim.topups == {}
    [(env, given_up)] = await world.events(FAILED)
    assert (given_up.channel, given_up.final, given_up.attempt) == ("activation", True, 4)
    assert (env.aggregate_type, env.aggregate_version, env.correlation_id) == ("ChannelRequest", 2, reserved.order_id)
    assert ACCOUNT not in given_up.reason

    # The partner comes back for one request, then goes down again: the first key is credited, the second
    # is not, and the channel gives up again.
    channels.sim.faults["partner"] = Faults("down", 0, skip=1)
    half = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))
    assert (half.delivered, half.attempts) == (False, 5)
    assert len(channels.sim.topups) == 1

    # Recovered: the operator's re-drive credits the second key; the first is answered from the partner's
    # idempotency record, not credited again.
    channels.sim.faults["partner"] = Faults()
    again = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))
    assert (again.delivered, again.attempts) == (True, 2)
    assert sorted(t["code"] for t in channels.sim.topups.values()) == sorted(reserved.codes)  # once each
    assert [p.final for _, p in await world.events(FAILED)] == [True, True]

    # A re-drive (or a resend) of an order already credited credits nothing more: the partner answers the
    # same idempotency keys with the first top-ups.
    repeat = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))
    assert repeat.delivered and len(channels.sim.topups) == 2
    announced = [p.channel for _, p in await world.events(CHANNEL_DELIVERED)]
    assert announced == ["activation", "activation"]


async def test_timeouts_and_5xx_are_retried_and_an_unknown_account_is_refused_at_once(
    world: Any, channels: Channels, smtp_server: CapturingSmtpServer
) -> None:
    reserved = await _delivered(world, keys=1)
    channels.sim.faults["partner"] = Faults("timeout", 1)
    slow = await channels.client.DeliverOnChannel(ask(reserved.order_id, "activation", ACCOUNT))
    assert (slow.delivered, slow.attempts) == (True, 2)

    other = await _delivered(world, keys=1)
    channels.sim.faults["partner"] = Faults("error", 2)
    flaky = await channels.client.DeliverOnChannel(ask(other.order_id, "activation", ACCOUNT))
    assert (flaky.delivered, flaky.attempts) == (True, 3)

    third = await _delivered(world, keys=1)
    before = channels.sim.requests["partner"]
    unknown = await channels.client.DeliverOnChannel(ask(third.order_id, "activation", "acct-nobody"))
    assert (unknown.delivered, unknown.attempts, unknown.reason) == (False, 1, "partner refused: account not found")
    assert channels.sim.requests["partner"] == before + 1
    bad_phone = await channels.client.DeliverOnChannel(ask(third.order_id, "sms", "12345"))
    assert (bad_phone.delivered, bad_phone.reason) == (False, "sms provider refused: invalid number")
    reasons = sorted((p.channel, p.reason) for _, p in await world.events(FAILED))
    assert reasons == [("activation", "partner refused: account not found"),
                       ("sms", "sms provider refused: invalid number")]


async def test_a_resend_on_another_channel_after_the_email_is_announced_for_that_channel_only(
    world: Any, channels: Channels, smtp_server: CapturingSmtpServer
) -> None:
    reserved = await _delivered(world, keys=1)
    await world.sender(sku_instructions={"sku-gold": "Open the Gold app, Me > Redeem."}).run_once()
    [mail] = smtp_server.messages
    assert "How to use SKU sku-gold:" in mail.get_content() and "Open the Gold app" in mail.get_content()

    resent = await channels.client.DeliverOnChannel(ask(reserved.order_id, "sms", PHONE, "buyer:buyer-1"))

    assert resent.delivered
    announced = [p.channel for _, p in await world.events(CHANNEL_DELIVERED)]
    assert announced == ["email", "sms"]
    [(_, delivered)] = await world.events(DELIVERED)
    assert list(delivered.channels) == ["user_center"]


async def test_bad_requests_are_refused_and_change_nothing(
    world: Any, channels: Channels, smtp_server: CapturingSmtpServer
) -> None:
    reserved = await _delivered(world, keys=1)
    for request, code in [
        (ask("order-none", "sms", PHONE), grpc.StatusCode.NOT_FOUND),
        (ask(reserved.order_id, "pigeon", PHONE), grpc.StatusCode.INVALID_ARGUMENT),
        (ask(reserved.order_id, "email", "x@example.com"), grpc.StatusCode.INVALID_ARGUMENT),
        (ask(reserved.order_id, "sms", " "), grpc.StatusCode.INVALID_ARGUMENT),
        (ask(reserved.order_id, "sms", PHONE, by=""), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channels.client.DeliverOnChannel(request)
        assert caught.value.code() == code
    assert await world.events(CHANNEL_REQUESTED) == []
    assert channels.sim.messages == []
