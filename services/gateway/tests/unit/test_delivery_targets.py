"""A buyer's delivery targets: each fits its channel, or is refused without being echoed."""

from __future__ import annotations

import uuid

import pytest
from quanyi_gateway.adapters.delivery_targets import InMemoryDeliveryTargetStore
from quanyi_gateway.application.delivery_targets import (
    BuyerGone,
    DeliveryTarget,
    DeliveryTargets,
    InvalidTarget,
    checked,
)


@pytest.mark.parametrize(
    ("channel", "target"),
    [
        ("webhook", "https://hooks.example.com/quanyi?x=1"),
        ("sms", "+8613800138000"),
        ("activation", "player-42@partner"),
        ("app", "fcm:APA91bE-device_token.0123"),
    ],
)
def test_a_target_that_fits_its_channel_is_kept_as_given(channel: str, target: str) -> None:
    assert checked(channel, f" {target} ") == DeliveryTarget(channel, target)


@pytest.mark.parametrize(
    ("channel", "target"),
    [
        ("webhook", "http://hooks.example.com/keys"),  # not https
        ("webhook", "https://127.0.0.1/keys"),  # loopback
        ("webhook", "https://10.1.2.3/keys"),  # private
        ("webhook", "https://169.254.169.254/latest"),  # link-local (cloud metadata)
        ("webhook", "https://localhost/keys"),
        ("webhook", "https://intranet/keys"),  # a bare name resolves inside
        ("webhook", "https://user:pw@hooks.example.com/"),  # credentials in the URL
        ("webhook", "https://[::1]/keys"),
        ("sms", "13912345678"),  # not E.164
        ("sms", "+0123456789"),
        ("activation", "has space"),
        ("app", "short"),
        ("email", "a@b.test"),  # the e-mail is the account's address, not a kept target
        ("carrier-pigeon", "coop 7"),
    ],
)
def test_a_target_that_does_not_fit_its_channel_is_refused_without_being_echoed(
    channel: str, target: str
) -> None:
    with pytest.raises(InvalidTarget) as refused:
        checked(channel, target)
    assert target not in str(refused.value)


async def test_replacing_the_set_keeps_exactly_it_and_refuses_two_targets_of_one_channel() -> None:
    buyer = uuid.uuid4()
    store = InMemoryDeliveryTargetStore(buyers={buyer})
    targets = DeliveryTargets(store)
    await targets.set_one(buyer, "app", "device-token-0123456789")

    kept = await targets.replace(buyer, [("sms", "+8613800138000"), ("webhook", "https://h.example.com/")])

    assert kept == await targets.mine(buyer) == [
        DeliveryTarget("sms", "+8613800138000"), DeliveryTarget("webhook", "https://h.example.com/")
    ]
    with pytest.raises(InvalidTarget):
        await targets.replace(buyer, [("sms", "+8613800138000"), ("sms", "+8613900139000")])
    with pytest.raises(InvalidTarget):
        await targets.replace(buyer, [("sms", "+8613800138000"), ("app", "bad")])
    assert len(await targets.mine(buyer)) == 2  # a refused set changes nothing
    with pytest.raises(BuyerGone):
        await targets.set_one(uuid.uuid4(), "sms", "+8613800138000")
    assert await targets.forget(buyer, "sms") == 1
    assert await targets.forget(buyer) == 1
    with pytest.raises(InvalidTarget):
        await targets.forget(buyer, "fax")
