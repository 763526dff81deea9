"""The delivery e-mail as an on-demand channel over real gRPC, Postgres and SMTP: an operator's re-drive
after the e-mail gave up names no target, and fulfillment asks the gateway for the buyer's address at that
moment (BuyerContactsService), sends the same delivery e-mail, and records ChannelRequested then
ChannelDelivered on the request's own stream. A buyer the gateway cannot reach is refused before anything
is recorded; the address is in no event or table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.application.channels import EmailOnDemand
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer
from quanyi_platform import rpc
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

CHANNEL_DELIVERED = fulfillment_events.ChannelDelivered.DESCRIPTOR.full_name
CHANNEL_REQUESTED = fulfillment_events.ChannelRequested.DESCRIPTOR.full_name


@pytest.fixture
async def client(world: Any) -> AsyncIterator[pb_grpc.FulfillmentServiceStub]:
    servicer = FulfillmentServicer(
        world.uow, inventory=GrpcInventory(world.inventory_channel),
        senders={"email": EmailOnDemand(world.mailer())}, contacts=GrpcContacts(world.gateway_channel),
    )
    server = rpc.server()
    pb_grpc.add_FulfillmentServiceServicer_to_server(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}", 30.0)
    try:
        yield pb_grpc.FulfillmentServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=None)


async def test_an_email_redrive_asks_the_gateway_for_the_address_and_sends_the_delivery_email(
    world: Any, client: pb_grpc.FulfillmentServiceStub, smtp_server: CapturingSmtpServer
) -> None:
    reserved = world.reserve(keys=2, email="redrive@example.com", buyer_id="buyer-redrive")
    await world.handle(reserved.record)
    before = len(smtp_server.messages)
    calls = len(world.inventory.contacts.calls)

    reply = await client.DeliverOnChannel(pb.DeliverOnChannelRequest(
        order_id=reserved.order_id, channel="email", target="", requested_by="operator:ops"
    ))
    assert (reply.delivered, reply.attempts, reply.reason) == (True, 1, "")
    assert len(world.inventory.contacts.calls) > calls  # asked at the moment of sending
    sent = [m for m in smtp_server.messages[before:] if "redrive@example.com" in str(m["To"])]
    assert len(sent) == 1
    body = sent[0].get_content()
    assert all(code in body for code in reserved.secrets)
    requested = [p for _, p in await world.events(CHANNEL_REQUESTED) if p.order_id == reserved.order_id]
    delivered = [p for _, p in await world.events(CHANNEL_DELIVERED) if p.order_id == reserved.order_id]
    assert [(p.channel, p.requested_by) for p in requested] == [("email", "operator:ops")]
    assert "email" in [p.channel for p in delivered]
    for table in ("events", "deliveries"):
        rows = await world.rows(f"SELECT * FROM {table}")
        assert "redrive@example.com" not in repr(rows)


async def test_a_buyer_the_gateway_cannot_reach_is_refused_before_anything_is_recorded(
    world: Any, client: pb_grpc.FulfillmentServiceStub
) -> None:
    reserved = world.reserve(keys=1, email="gone@example.com", buyer_id="buyer-gone")
    await world.handle(reserved.record)
    world.inventory.contacts.erased.add("buyer-gone")  # the buyer asked to be erased since
    requested = len(await world.events(CHANNEL_REQUESTED))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await client.DeliverOnChannel(pb.DeliverOnChannelRequest(
            order_id=reserved.order_id, channel="email", target="", requested_by="operator:ops"
        ))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no e-mail address" in (refused.value.details() or "")
    assert len(await world.events(CHANNEL_REQUESTED)) == requested
