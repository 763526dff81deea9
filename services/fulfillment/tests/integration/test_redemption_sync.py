"""The redemption sync against the partner simulator's feed over HTTP and Postgres: a key used at the
partner is marked redeemed once (a re-read feed records nothing twice), a key of a SKU the partner does not
hold is skipped, a key never delivered raises the alert, and a feed that is down leaves the cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_fulfillment.adapters.redemption_feed import PartnerRedemptionFeed
from quanyi_fulfillment.application.ports import FeedUnavailable
from quanyi_fulfillment.entrypoints.redemption_poller import RedemptionPoller
from quanyi_fulfillment.entrypoints.simulators import Faults, SimulatorState, start_simulators
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

REDEEMED = fulfillment_events.Redeemed.DESCRIPTOR.full_name
ALERT = fulfillment_events.UndeliveredKeyRedeemed.DESCRIPTOR.full_name
API_KEY = "feed-key"


@pytest.fixture
async def partner() -> AsyncIterator[tuple[SimulatorState, PartnerRedemptionFeed]]:
    port = free_port()
    sim = SimulatorState(API_KEY, set())
    runner = await start_simulators(sim, "127.0.0.1", port)
    async with httpx.AsyncClient() as http:
        try:
            yield sim, PartnerRedemptionFeed(http, f"http://127.0.0.1:{port}", API_KEY, 2.0)
        finally:
            await runner.cleanup()


async def test_the_feed_marks_used_keys_redeemed_once_skips_other_skus_and_alerts_on_undelivered_keys(
    world: Any, partner: tuple[SimulatorState, PartnerRedemptionFeed], smtp_server: CapturingSmtpServer
) -> None:
    sim, feed = partner
    reserved = world.reserve(keys=2)
    await world.handle(reserved.record)
    [first, second] = [k.key_id for k in world.inventory.keys[reserved.order_id]]
    sim.redemptions += [
        {"key_id": first, "redeemed_at": "2026-11-30T09:00:00+08:00"},
        {"key_id": "key-never-delivered", "redeemed_at": ""},
    ]

    poller = RedemptionPoller(world.uow, feed, "demo-partner", {"sku-gold"}, 60)
    result = await poller.poll_once()

    assert (result.recorded, result.alerts, result.cursor) == (1, 1, "2")
    [(_, redeemed)] = await world.events(REDEEMED)
    assert (redeemed.key_id, redeemed.partner, redeemed.redeemed_at) == (first, "demo-partner", "2026-11-30T01:00:00Z")
    [(_, alert)] = await world.events(ALERT)
    assert (alert.key_id, alert.partner) == ("key-never-delivered", "demo-partner")

    # Nothing new: nothing done. From the start again (a restart): duplicates only.
    assert (await poller.poll_once()).recorded == 0
    again = await RedemptionPoller(world.uow, feed, "demo-partner", {"sku-gold"}, 60).poll_once()
    assert (again.recorded, again.duplicates, again.alerts) == (0, 1, 1)
    assert len(await world.events(REDEEMED)) == 1 and len(await world.events(ALERT)) == 1

    # A partner that does not hold the SKU may not mark its keys redeemed.
    sim.redemptions.append({"key_id": second, "redeemed_at": ""})
    other = RedemptionPoller(world.uow, feed, "other-partner", {"sku-silver"}, 60)
    other.cursor = "2"
    assert (await other.poll_once()).out_of_scope == 1
    [row] = await world.rows("SELECT redeemed_at FROM deliveries WHERE key_id = %s", second)
    assert row["redeemed_at"] is None

    # The feed down: the poll fails, the cursor stays.
    sim.faults["partner"] = Faults("down")
    with pytest.raises(FeedUnavailable):
        await poller.poll_once()
    assert poller.cursor == "2"
    sim.faults["partner"] = Faults()
    assert (await poller.poll_once()).recorded == 1  # the second key, for the partner that holds its SKU
