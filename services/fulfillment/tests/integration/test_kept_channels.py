"""Delivery on the channels a buyer keeps targets for, without being asked, over real Postgres, gRPC (the
gateway's contacts and inventory as doubles) and HTTP (the SMS and push simulators): the delivery e-mail's
first attempt schedules one KeptChannel delivery per kept channel, from the contacts its round already
fetched; the kept-channel sender claims it, asks the gateway for the target at that moment, delivers, and
records ChannelDelivered, DeliveryFailed (final) or ChannelCancelled. A buyer who keeps no target costs no
extra look-up, event or row; a sender that dies after its claim leaves the delivery due again when its
lease runs out; the targets are in no event or table; replay equals live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.application.kept_channels import claim_due_kept
from quanyi_fulfillment.application.queries import channel_history
from quanyi_fulfillment.entrypoints.kept_channel_sender import KeptChannelSender
from quanyi_fulfillment.entrypoints.simulators import Faults, SimulatorState, start_simulators
from quanyi_platform.infra.ports import free_port
from quanyi_platform.testing.replay import assert_replay_matches_live

REQUESTED = fulfillment_events.ChannelRequested.DESCRIPTOR.full_name
STARTED = fulfillment_events.ChannelAttemptStarted.DESCRIPTOR.full_name
DELIVERED = fulfillment_events.ChannelDelivered.DESCRIPTOR.full_name
FAILED = fulfillment_events.DeliveryFailed.DESCRIPTOR.full_name
CANCELLED = fulfillment_events.ChannelCancelled.DESCRIPTOR.full_name
API_KEY = "sim-api-key-test"
DEVICE = "fcm:kept-device_0123456789abcdef"
PHONE = "+8613800138000"


@dataclass
class Kept:
    sim: SimulatorState
    settings: Any
    http: httpx.AsyncClient

    def sender(self, world: Any, **overrides: Any) -> KeptChannelSender:
        settings = self.settings.model_copy(update=overrides)
        return bootstrap.kept_channel_sender(
            world.uow, GrpcInventory(world.inventory_channel), GrpcContacts(world.gateway_channel),
            bootstrap.channel_senders(settings, self.http), settings,
        )


@pytest.fixture
async def kept(world: Any) -> AsyncIterator[Kept]:
    sim_port = free_port()
    sim = SimulatorState(API_KEY, set(), timeout_s=2.0)
    runner = await start_simulators(sim, "127.0.0.1", sim_port)
    url = f"http://127.0.0.1:{sim_port}"
    settings = type(world.settings).model_validate(world.settings.model_dump() | {
        "channel_max_attempts": 3, "channel_retry_base_s": 0.01, "channel_retry_cap_s": 0.05,
        "channel_timeout_s": 0.5, "push_api_url": url, "push_api_key": API_KEY, "sms_api_url": url,
        "sms_api_key": API_KEY,
    })
    http = httpx.AsyncClient()
    try:
        yield Kept(sim, settings, http)
    finally:
        await http.aclose()
        await runner.cleanup()


async def _delivered_with_email(world: Any, buyer: str, targets: list[tuple[str, str]]) -> Any:
    reserved = world.reserve(keys=2, email=f"{buyer}@example.com", buyer_id=buyer)
    world.inventory.contacts.targets[buyer] = targets
    await world.handle(reserved.record)
    assert await world.sender().run_once() >= 1  # the e-mail's first attempt schedules the kept channels
    return reserved


async def _of(world: Any, event_type: str, order_id: str) -> list[Any]:
    return [(e, p) for e, p in await world.events(event_type) if p.order_id == order_id]


async def test_each_kept_channel_is_delivered_once_asked_for_its_target_at_send_time(
    world: Any, kept: Kept, database_url: str
) -> None:
    reserved = await _delivered_with_email(world, "buyer-keeps", [("app", DEVICE), ("sms", PHONE)])
    requested = await _of(world, REQUESTED, reserved.order_id)
    assert sorted((e.aggregate_type, e.aggregate_id, p.channel, p.requested_by) for e, p in requested) == [
        ("KeptChannel", f"{reserved.order_id}:app", "app", "buyer:buyer-keeps"),
        ("KeptChannel", f"{reserved.order_id}:sms", "sms", "buyer:buyer-keeps"),
    ]
    # The buyer changes phone before the sender runs: the target is asked for when it sends.
    world.inventory.contacts.targets["buyer-keeps"] = [("app", DEVICE), ("sms", "+8613900139000")]
    calls = len(world.inventory.contacts.calls)

    assert await kept.sender(world).run_once() == 2

    assert len(world.inventory.contacts.calls) == calls + 1  # one look-up for the round
    [pushed] = kept.sim.pushes.values()
    assert pushed["device"] == DEVICE and pushed["data"]["order_id"] == reserved.order_id
    [text] = kept.sim.messages
    assert text["to"] == "+8613900139000"
    assert all(code in text["text"] for code in reserved.codes)
    delivered = await _of(world, DELIVERED, reserved.order_id)
    assert sorted(p.channel for e, p in delivered if e.aggregate_type == "KeptChannel") == ["app", "sms"]
    assert await world.rows("SELECT * FROM kept_channels") == []  # nothing left in hand
    assert await kept.sender(world).run_once() == 0  # and nothing is delivered twice
    assert len(kept.sim.messages) == 1
    for table in ("events", "deliveries", "email_outbox", "kept_channels"):
        dump = repr(await world.rows(f"SELECT * FROM {table}"))
        assert DEVICE not in dump and "+86139" not in dump and PHONE not in dump
    await world.assert_no_plaintext(reserved.secrets)
    await assert_replay_matches_live(database_url, "fulfillment")


async def test_a_buyer_keeping_no_target_costs_no_extra_look_up_event_or_row(world: Any, kept: Kept) -> None:
    reserved = await _delivered_with_email(world, "buyer-plain", [])
    calls = len(world.inventory.contacts.calls)
    assert calls == 1  # the e-mail round's

    assert await kept.sender(world).run_once() == 0

    assert len(world.inventory.contacts.calls) == calls  # the idle sender asked nobody
    assert await _of(world, REQUESTED, reserved.order_id) == []
    assert await world.rows("SELECT * FROM kept_channels") == []


async def test_a_sender_that_dies_after_its_claim_leaves_the_delivery_due_again_once_its_lease_ran_out(
    world: Any, kept: Kept
) -> None:
    reserved = await _delivered_with_email(world, "buyer-crash", [("app", DEVICE)])
    # A sender claims the delivery and dies before it calls the channel (nothing else of it runs).
    claimed = await claim_due_kept(world.uow, datetime.now(UTC), 10, 0.3)
    assert [c.state.channel for c in claimed.claims] == ["app"]
    assert await kept.sender(world, kept_channel_lease_s=0.3).run_once() == 0  # still held by the claim

    await asyncio.sleep(0.35)  # the claim's lease runs out (a due time, not a wait on an outcome)
    assert await kept.sender(world, kept_channel_lease_s=5).run_once() == 1

    assert len(kept.sim.pushes) == 1
    started = await _of(world, STARTED, reserved.order_id)
    assert [p.lease for _, p in started] == [1, 2]
    delivered = [(e.aggregate_type, p.channel) for e, p in await _of(world, DELIVERED, reserved.order_id)]
    assert delivered.count(("KeptChannel", "app")) == 1


async def test_a_channel_that_stays_down_is_given_up_for_the_exception_queue_and_a_dropped_target_is_cancelled(
    world: Any, kept: Kept
) -> None:
    down = await _delivered_with_email(world, "buyer-down", [("sms", PHONE)])
    dropped = await _delivered_with_email(world, "buyer-dropped", [("app", DEVICE)])
    kept.sim.faults["sms"] = Faults("down")
    world.inventory.contacts.targets["buyer-dropped"] = []  # forgot the device before the sender ran

    assert await kept.sender(world).run_once() == 2

    [(env, failed)] = await _of(world, FAILED, down.order_id)
    assert (env.aggregate_type, failed.channel, failed.final, failed.attempt) == ("KeptChannel", "sms", True, 3)
    assert "503" in failed.reason and PHONE not in failed.reason
    [(_, cancelled)] = await _of(world, CANCELLED, dropped.order_id)
    assert cancelled.channel == "app" and "keeps no app target" in cancelled.reason
    assert await _of(world, FAILED, dropped.order_id) == []  # not an exception-queue entry
    history = (await channel_history(world.uow, [dropped.order_id]))[dropped.order_id]
    assert [(s.channel, s.outcome) for s in history if s.channel == "app"] == [
        ("app", "requested"), ("app", "cancelled")
    ]
    assert kept.sim.pushes == {} and kept.sim.messages == []
    assert await world.rows("SELECT * FROM kept_channels") == []



async def test_an_sms_whose_answer_was_lost_is_retried_under_its_out_id_and_sent_once(
    world: Any, kept: Kept
) -> None:
    reserved = await _delivered_with_email(world, "buyer-lost", [("sms", PHONE)])
    kept.sim.faults["sms"] = Faults("lost", count=1)  # the provider sends, its answer never arrives

    assert await kept.sender(world).run_once() == 1

    [text] = kept.sim.messages  # the retry carried the same out_id: the provider did not send it again
    assert kept.sim.requests["sms"] == 2 and text["out_id"].startswith("qy-") and PHONE not in text["out_id"]
    delivered = [(e.aggregate_type, p.channel) for e, p in await _of(world, DELIVERED, reserved.order_id)]
    assert delivered.count(("KeptChannel", "sms")) == 1


_ONE_ROUND = """
import asyncio
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.config import load
from quanyi_platform import db, rpc
import httpx

async def main() -> None:
    settings = load()
    pool = await db.create_pool(settings.database_url, "fulfillment", 1, 2)
    async with httpx.AsyncClient() as http:
        sender = bootstrap.kept_channel_sender(
            bootstrap.unit_of_work(bootstrap.event_store(), pool),
            GrpcInventory(rpc.channel(settings.inventory_grpc, 10)),
            GrpcContacts(rpc.channel(settings.gateway_grpc, 10)),
            bootstrap.channel_senders(settings, http), settings,
        )
        print("claimed", await sender.run_once(), flush=True)

asyncio.run(main())
"""


async def test_a_sender_killed_between_sending_an_sms_and_recording_it_leaves_one_sms_after_the_next_round(
    world: Any, kept: Kept, database_url: str
) -> None:
    """A real process sends the SMS and is killed (SIGKILL) before it records the send; once its claim's
    lease runs out another sender delivers again under the same out_id: the buyer gets one SMS, and the
    delivery is recorded once."""
    import os
    import signal
    import subprocess
    import sys

    reserved = await _delivered_with_email(world, "buyer-killed", [("sms", PHONE)])
    kept.sim.timeout_s = 5.0
    kept.sim.faults["sms"] = Faults("lost")  # the provider sends; the sender waits for the answer
    env = {
        **os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "QUANYI_DATABASE_URL": database_url,
        "QUANYI_INVENTORY_GRPC": world.settings.inventory_grpc, "QUANYI_GATEWAY_GRPC": world.settings.gateway_grpc,
        "QUANYI_SMS_API_URL": kept.settings.sms_api_url, "QUANYI_SMS_API_KEY": API_KEY,
        "QUANYI_KEPT_CHANNEL_LEASE_S": "1.5", "QUANYI_CHANNEL_TIMEOUT_S": "60", "QUANYI_CHANNEL_TOTAL_S": "120",
    }
    proc = subprocess.Popen([sys.executable, "-c", _ONE_ROUND], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        await world.wait(lambda: _true(len(kept.sim.messages) == 1), 60)  # sent, not yet recorded
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    recorded = await _of(world, DELIVERED, reserved.order_id)
    assert [e for e, _ in recorded if e.aggregate_type == "KeptChannel"] == []  # the send was never recorded
    [(_, started)] = await _of(world, STARTED, reserved.order_id)
    assert started.lease == 1
    kept.sim.faults["sms"] = Faults()

    async def delivered_again() -> bool:  # due once the dead sender's lease has run out
        return await kept.sender(world, kept_channel_lease_s=30).run_once() == 1

    await world.wait(delivered_again, 30)

    [text] = kept.sim.messages
    assert text["to"] == PHONE and all(code in text["text"] for code in reserved.codes)
    assert kept.sim.requests["sms"] == 2  # asked twice, sent once
    assert [p.lease for _, p in await _of(world, STARTED, reserved.order_id)] == [1, 2]
    delivered = [(e.aggregate_type, p.channel) for e, p in await _of(world, DELIVERED, reserved.order_id)]
    assert delivered.count(("KeptChannel", "sms")) == 1
    assert await world.rows("SELECT * FROM kept_channels") == []


async def _true(value: bool) -> bool:
    return value
