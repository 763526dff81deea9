"""FulfillmentService over a real gRPC server: listing deliveries and recording redemptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_fulfillment.entrypoints.grpc_server import FulfillmentServicer
from quanyi_platform import rpc
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

REDEEMED = fulfillment_events.Redeemed.DESCRIPTOR.full_name


@pytest.fixture
async def client(world: Any) -> AsyncIterator[pb_grpc.FulfillmentServiceStub]:
    server = rpc.server()
    pb_grpc.add_FulfillmentServiceServicer_to_server(FulfillmentServicer(world.uow), server)
    address = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(address)
    await server.start()
    channel = rpc.channel(address, 5.0)
    try:
        yield pb_grpc.FulfillmentServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=None)


async def test_a_redemption_is_recorded_once_and_a_repeat_is_reported_as_a_duplicate(
    world: Any, client: pb_grpc.FulfillmentServiceStub, smtp_server: CapturingSmtpServer
) -> None:
    reserved = world.reserve(keys=2)
    await world.handle(reserved.record)
    key_id = world.inventory.keys[reserved.order_id][0].key_id

    first = await client.RecordRedemption(
        pb.RecordRedemptionRequest(key_id=key_id, partner="tmall", redeemed_at="2025-03-01T20:00:00+08:00")
    )
    second = await client.RecordRedemption(
        pb.RecordRedemptionRequest(key_id=key_id, partner="jd", redeemed_at="2025-03-02T00:00:00Z")
    )

    assert not first.duplicate
    assert (first.delivery.key_id, first.delivery.order_id) == (key_id, reserved.order_id)
    assert first.delivery.redeemed_at == "2025-03-01T12:00:00Z"
    assert second.duplicate
    assert second.delivery.redeemed_at == "2025-03-01T12:00:00Z"  # the first report stands
    [(env, redeemed)] = await world.events(REDEEMED)
    assert (env.aggregate_type, env.aggregate_id, env.aggregate_version) == ("Redemption", key_id, 1)
    assert (redeemed.key_id, redeemed.order_id, redeemed.partner) == (key_id, reserved.order_id, "tmall")
    assert redeemed.redeemed_at == "2025-03-01T12:00:00Z"
    [row] = await world.rows("SELECT redeemed_by_partner FROM deliveries WHERE key_id = %s", key_id)
    assert row["redeemed_by_partner"] == "tmall"
    await world.assert_no_plaintext(reserved.secrets)


async def test_redeeming_a_key_that_was_never_delivered_is_not_found_and_raises_one_alert(
    world: Any, client: pb_grpc.FulfillmentServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.RecordRedemption(pb.RecordRedemptionRequest(
                key_id="key-unknown", partner="tmall", redeemed_at="2026-11-30T10:00:00+08:00"
            ))
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
    assert await world.events(REDEEMED) == []
    [(env, alert)] = await world.events(fulfillment_events.UndeliveredKeyRedeemed.DESCRIPTOR.full_name)
    assert (alert.key_id, alert.partner, alert.redeemed_at) == ("key-unknown", "tmall", "2026-11-30T02:00:00Z")
    assert (env.aggregate_type, env.aggregate_id, env.aggregate_version) == ("RedemptionAlert", "key-unknown", 1)
    alerts = [r for r in caplog.records if getattr(r, "alert", "") == "undelivered_key_redeemed"]
    assert [r.first_report for r in alerts] == [True, False]


async def test_a_malformed_redemption_report_is_an_invalid_argument(
    world: Any, client: pb_grpc.FulfillmentServiceStub
) -> None:
    for request in (
        pb.RecordRedemptionRequest(key_id="", partner="tmall"),
        pb.RecordRedemptionRequest(key_id="k1", partner=""),
        pb.RecordRedemptionRequest(key_id="k1", partner="tmall", redeemed_at="last tuesday"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.RecordRedemption(request)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_buyer_sees_their_delivered_key_ids_and_redemption_state_and_nobody_elses(
    world: Any, client: pb_grpc.FulfillmentServiceStub, smtp_server: CapturingSmtpServer
) -> None:
    mine = world.reserve(keys=2, buyer_id="buyer-a")
    also_mine = world.reserve(keys=1, buyer_id="buyer-a")
    theirs = world.reserve(keys=1, buyer_id="buyer-b")
    await world.handle(mine.record, also_mine.record, theirs.record)
    redeemed_key = world.inventory.keys[mine.order_id][1].key_id
    await client.RecordRedemption(pb.RecordRedemptionRequest(key_id=redeemed_key, partner="tmall"))

    everything = await client.ListDeliveries(pb.ListDeliveriesRequest(buyer_id="buyer-a"))
    one_order = await client.ListDeliveries(pb.ListDeliveriesRequest(buyer_id="buyer-a", order_id=mine.order_id))
    not_mine = await client.ListDeliveries(pb.ListDeliveriesRequest(buyer_id="buyer-a", order_id=theirs.order_id))

    assert len(everything.deliveries) == 3
    assert {d.order_id for d in everything.deliveries} == {mine.order_id, also_mine.order_id}
    assert [d.key_id for d in one_order.deliveries] == [k.key_id for k in world.inventory.keys[mine.order_id]]
    assert {d.key_id: bool(d.redeemed_at) for d in one_order.deliveries}[redeemed_key]
    assert sum(bool(d.redeemed_at) for d in everything.deliveries) == 1
    assert all(d.delivered_at.endswith("Z") for d in everything.deliveries)
    assert not_mine.deliveries == []
    assert everything.next_page_token == ""
    first = await client.ListDeliveries(pb.ListDeliveriesRequest(buyer_id="buyer-a", limit=1))
    second = await client.ListDeliveries(
        pb.ListDeliveriesRequest(buyer_id="buyer-a", limit=1, page_token=first.next_page_token)
    )
    assert first.next_page_token and second.next_page_token == ""
    assert {d.order_id for d in first.deliveries} | {d.order_id for d in second.deliveries} == {
        mine.order_id, also_mine.order_id
    }
    both = await client.ListDeliveries(
        pb.ListDeliveriesRequest(buyer_id="buyer-a", order_ids=[mine.order_id, theirs.order_id])
    )
    assert {d.order_id for d in both.deliveries} == {mine.order_id}
    for bad in (
        pb.ListDeliveriesRequest(buyer_id=""),
        pb.ListDeliveriesRequest(buyer_id="buyer-a", page_token="not-a-token"),
        pb.ListDeliveriesRequest(buyer_id="buyer-a", order_ids=[str(n) for n in range(501)]),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.ListDeliveries(bad)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_reports_of_one_redemption_arriving_at_once_record_it_once(
    world: Any, client: pb_grpc.FulfillmentServiceStub
) -> None:
    reserved = world.reserve(keys=1)
    await world.handle(reserved.record)
    key_id = world.inventory.keys[reserved.order_id][0].key_id

    replies = await asyncio.gather(*(
        client.RecordRedemption(pb.RecordRedemptionRequest(key_id=key_id, partner=p))
        for p in ("tmall", "jd", "pdd", "tmall")
    ))

    assert sorted(r.duplicate for r in replies) == [False, True, True, True]
    assert len({r.delivery.redeemed_at for r in replies}) == 1
    [(_, redeemed)] = await world.events(REDEEMED)
    [row] = await world.rows("SELECT redeemed_by_partner FROM deliveries WHERE key_id = %s", key_id)
    assert row["redeemed_by_partner"] == redeemed.partner
