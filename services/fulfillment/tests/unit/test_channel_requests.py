"""On-demand channel requests in the Delivery aggregate: their own stream, never the order's Delivery
stream's versions; a request for an unknown channel, without a requester, or for an undelivered order is
refused; the outcome is ChannelDelivered or a final DeliveryFailed naming the channel."""

from datetime import UTC, datetime, timedelta

import pytest
from quanyi_fulfillment.adapters.memory import InMemoryFulfillmentUnitOfWork
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    alert_undelivered_redemption,
    channel_outcome,
    deliver,
    evolve_all,
    fold,
    request_channel,
)
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidChannelRequest
from quanyi_fulfillment.domain.events import (
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Recorded,
    UndeliveredKeyRedeemed,
)

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def delivered() -> tuple[list[Recorded], Delivery]:
    keys = (ReservedKey("k1", "sku", 1, 1, Money(500, "CNY")),)
    records = deliver(None, Reservation("o-1", "b-1", keys, "web"), T0)
    state = evolve_all(None, records)
    assert state is not None
    return records, state


def test_a_request_is_version_one_of_its_own_stream_and_leaves_the_delivery_stream_alone() -> None:
    records, state = delivered()
    [requested] = request_channel(state, "req-1", "sms", "buyer:b-1", T0)
    assert (requested.stream, requested.stream_id, requested.version) == ("ChannelRequest", "req-1", 1)
    assert requested.event == ChannelRequested("o-1", "sms", "buyer:b-1", T0)
    [done] = channel_outcome(requested, 1, None, T0 + timedelta(seconds=1))
    assert (done.stream_id, done.version) == ("req-1", 2)
    assert done.event == ChannelDelivered("o-1", "sms", 1, T0 + timedelta(seconds=1))
    after = evolve_all(state, [requested, done])
    assert after == state  # the e-mail's claims and the Delivery stream's version are untouched
    assert fold([*records, requested, done])["o-1"] == state


def test_a_channel_that_gave_up_is_a_final_delivery_failed_naming_it() -> None:
    _, state = delivered()
    [requested] = request_channel(state, "req-2", "activation", "operator:alice", T0)
    [failed] = channel_outcome(requested, 5, "partner answered HTTP 503", T0)
    assert failed.event == DeliveryFailed("o-1", 5, "partner answered HTTP 503", True, T0, "activation")


@pytest.mark.parametrize("channel", ["user_center", "pigeon", ""])
def test_only_the_on_demand_channels_can_be_asked_for(channel: str) -> None:
    _, state = delivered()
    with pytest.raises(InvalidChannelRequest):
        request_channel(state, "req", channel, "operator:alice", T0)


def test_a_request_needs_a_requester_and_a_delivered_order() -> None:
    _, state = delivered()
    with pytest.raises(InvalidChannelRequest):
        request_channel(state, "req", "webhook", "", T0)
    with pytest.raises(DeliveryNotFound):
        request_channel(None, "req", "webhook", "operator:alice", T0)


async def test_the_fake_unit_of_work_folds_requests_beside_the_delivery() -> None:
    records, state = delivered()
    uow = InMemoryFulfillmentUnitOfWork()
    async with uow as work:
        await work.record(records)
        [requested] = request_channel(state, "req-3", "webhook", "buyer:b-1", T0)
        await work.record([requested, *channel_outcome(requested, 2, None, T0)])
        await work.commit()
    async with InMemoryFulfillmentUnitOfWork(uow.events) as work:
        assert (await work.deliveries.get_many(["o-1"]))["o-1"] == state


def test_an_undelivered_key_reported_redeemed_is_one_alert_on_the_keys_own_stream_outside_any_delivery() -> None:
    records, state = delivered()
    [alert] = alert_undelivered_redemption("k-stolen", "tmall", T0, T0 + timedelta(seconds=1))
    assert (alert.stream, alert.stream_id, alert.version) == ("RedemptionAlert", "k-stolen", 1)
    assert alert.event == UndeliveredKeyRedeemed("k-stolen", "tmall", T0, T0 + timedelta(seconds=1))
    assert fold([*records, alert]) == {"o-1": state}
