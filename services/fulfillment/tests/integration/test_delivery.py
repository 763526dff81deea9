"""Delivering reserved keys against real Postgres, a real SMTP server and inventory over gRPC."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name
FAILED = fulfillment_events.DeliveryFailed.DESCRIPTOR.full_name
ATTEMPT_FAILED = fulfillment_events.EmailAttemptFailed.DESCRIPTOR.full_name
GIVEN_UP = fulfillment_events.EmailGivenUp.DESCRIPTOR.full_name


def body(message: EmailMessage) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


async def test_a_reserved_order_reaches_the_user_centre_and_the_buyers_inbox(
    world: Any, smtp_server: CapturingSmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reserved = world.reserve(keys=2)

    assert await world.handle(reserved.record) == 1
    assert world.inventory.calls == []  # the consumer only queues the e-mail
    assert await world.sender().run_once() == 1

    rows = await world.rows("SELECT * FROM deliveries ORDER BY unit_no")
    assert [r["key_id"] for r in rows] == [k.key_id for k in world.inventory.keys[reserved.order_id]]
    assert all(r["buyer_id"] == "buyer-1" and r["redeemed_at"] is None for r in rows)
    assert [(r["unit_cost_minor"], r["currency"]) for r in rows] == [(700, "CNY")] * 2
    mail = await smtp_server.wait_for_async(lambda m: m["Subject"] == f"Your order {reserved.order_id}")
    assert mail["To"] == "buyer@example.com"
    assert mail["From"] == "quanyi <no-reply@quanyi.local>"
    for secret in reserved.secrets:
        assert secret in body(mail)
    [(env, delivered)] = await world.events(DELIVERED)
    assert (env.aggregate_type, env.aggregate_id, env.aggregate_version) == ("Delivery", reserved.order_id, 1)
    assert (env.causation_id, env.correlation_id) == (reserved.event_id, reserved.order_id)
    assert list(delivered.channels) == ["user_center"]  # the e-mail is announced once it was sent
    [(env, announced)] = await world.events("quanyi.fulfillment.v1.ChannelDelivered")
    assert (announced.order_id, announced.channel, announced.attempt) == (reserved.order_id, "email", 1)
    assert delivered.sales_channel == "web"
    assert [k.unit_cost.minor_units for k in delivered.keys] == [700, 700]
    [call] = world.inventory.calls
    assert (call.actor, call.purpose) == ("fulfillment", "delivery")
    await world.assert_no_plaintext(reserved.secrets)
    assert not any(s in caplog.text for s in reserved.secrets)


async def test_a_reservation_handled_twice_delivers_once_and_sends_one_email(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    reserved = world.reserve(keys=3)
    again = world.reserve(order_id=reserved.order_id)  # inventory recorded it again: a new event id

    await world.handle(reserved.record)
    await world.handle(reserved.record)  # the broker redelivered it
    await world.handle(again.record)
    await world.sender().run_once()
    await world.sender().run_once()

    await smtp_server.wait_for_async()
    await asyncio.sleep(0.3)
    assert len(smtp_server.messages) == 1
    assert len(await world.rows("SELECT * FROM deliveries")) == 3
    assert len(await world.events(DELIVERED)) == 1
    assert len(world.inventory.calls) == 1


async def test_a_buyer_without_an_email_address_gets_the_keys_in_the_user_centre_and_the_email_is_cancelled(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    reserved = world.reserve(keys=1, email="")

    await world.handle(reserved.record)
    await world.sender().run_once()

    [(_, delivered)] = await world.events(DELIVERED)
    assert list(delivered.channels) == ["user_center"]  # never a channel that has not delivered
    assert await world.events("quanyi.fulfillment.v1.ChannelDelivered") == []
    assert smtp_server.messages == []
    assert world.inventory.calls == []  # nobody to send to, so nothing revealed
    [(_, cancelled)] = await world.events("quanyi.fulfillment.v1.EmailCancelled")
    assert (cancelled.order_id, cancelled.attempt) == (reserved.order_id, 1)
    assert [r["state"] for r in await world.rows("SELECT state FROM email_outbox")] == ["cancelled"]


async def test_the_address_is_asked_of_the_gateway_when_sending_and_an_erased_buyer_gets_no_email(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    kept = world.reserve(keys=1, buyer_id="buyer-kept", email="kept@example.com")
    erased = world.reserve(keys=1, buyer_id="buyer-erased", email="erased@example.com")
    world.inventory.contacts.erased.add("buyer-erased")  # erased after the order, before the e-mail

    await world.handle(kept.record, erased.record)
    await world.sender().run_once()

    [mail] = smtp_server.messages
    assert mail["To"] == "kept@example.com"
    [call] = world.inventory.contacts.calls
    assert sorted(call.buyer_ids) == ["buyer-erased", "buyer-kept"]
    assert [r.order_id for r in world.inventory.calls] == [kept.order_id]  # the erased buyer's keys stay sealed
    states = {r["order_id"]: r["state"] for r in await world.rows("SELECT order_id, state FROM email_outbox")}
    assert states == {kept.order_id: "sent", erased.order_id: "cancelled"}
    # No address in any of fulfillment's events or tables.
    for _, payload in await world.events():
        assert "@example.com" not in str(payload)
    rows = await world.rows("SELECT * FROM email_outbox")
    assert not any("@" in str(v) for r in rows for v in r.values())


async def test_with_the_mail_server_down_the_keys_are_in_the_user_centre_and_the_email_is_retried_until_sent(
    world_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens here yet
    world = world_factory(port)
    reserved = world.reserve(keys=2)

    await world.handle(reserved.record)
    await world.sender().run_once()  # the first attempt fails: nothing listens

    assert len(await world.rows("SELECT * FROM deliveries")) == 2
    [(_, delivered)] = await world.events(DELIVERED)
    assert list(delivered.channels) == ["user_center"]
    [(failed_env, failed)] = await world.events(FAILED)
    assert failed.channel == "email"
    # KeyDelivered 1, EmailQueued 2, EmailAttemptStarted 3, EmailAttemptFailed 4, DeliveryFailed 5.
    assert (failed_env.aggregate_id, failed_env.aggregate_version) == (reserved.order_id, 5)
    assert (failed.order_id, failed.attempt, failed.final) == (reserved.order_id, 1, False)
    assert failed.reason.startswith("smtp:")
    [outbox] = await world.rows("SELECT * FROM email_outbox")
    assert (outbox["order_id"], outbox["attempts"], outbox["state"]) == (reserved.order_id, 1, "pending")

    with CapturingSmtpServer(port=port) as smtp:
        sender = asyncio.create_task(world.sender().run())
        try:
            mail = await smtp.wait_for_async(timeout=10)
            await world.wait(lambda: _outbox_state(world, "sent"), 10)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert len(smtp.messages) == 1
    for secret in reserved.secrets:
        assert secret in body(mail)
    assert len(await world.events(FAILED)) == 1
    assert len(await world.events(DELIVERED)) == 1
    assert len(world.inventory.calls) == 2  # the keys were revealed again for the retry, never stored
    await world.assert_no_plaintext(reserved.secrets)
    assert not any(s in caplog.text for s in reserved.secrets)


async def _outbox_state(world: Any, state: str) -> bool:
    rows = await world.rows("SELECT state FROM email_outbox")
    return bool(rows) and rows[0]["state"] == state


async def test_an_email_that_keeps_failing_ends_in_the_exception_queue_after_the_last_attempt(
    world_factory: Callable[..., Any],
) -> None:
    world = world_factory(free_port(), smtp_max_attempts=3, smtp_retry_base_s=0.01)
    reserved = world.reserve(keys=1)
    await world.handle(reserved.record)

    sender = world.sender()
    for _ in range(100):
        await sender.run_once()
        if await _outbox_state(world, "failed"):
            break
        await asyncio.sleep(0.02)

    failures = await world.events(FAILED)
    assert [(p.attempt, p.final) for _, p in failures] == [(1, False), (2, False), (3, True)]
    assert [e.aggregate_version for e, _ in failures] == [5, 8, 11]
    assert [(p.attempt, p.counted) for _, p in await world.events(ATTEMPT_FAILED)] == [(1, True), (2, True)]
    [(_, given_up)] = await world.events(GIVEN_UP)
    assert (given_up.attempt, given_up.reason) == (3, failures[-1][1].reason)
    [outbox] = await world.rows("SELECT * FROM email_outbox")
    assert (outbox["attempts"], outbox["state"]) == (3, "failed")
    assert len(await world.rows("SELECT * FROM deliveries")) == 1  # still in the user centre
    await sender.run_once()
    assert len(await world.events(FAILED)) == 3  # nothing more is tried


async def test_while_inventory_is_down_keys_are_delivered_and_the_email_waits_without_spending_an_attempt(
    world_factory: Callable[..., Any], smtp_server: CapturingSmtpServer
) -> None:
    world = world_factory(smtp_server.port, inventory_grpc=f"127.0.0.1:{free_port()}")  # nobody answers
    reserved = world.reserve(keys=1)

    await world.handle(reserved.record)
    await world.sender().run_once()

    assert len(await world.rows("SELECT * FROM deliveries")) == 1
    assert len(await world.events(DELIVERED)) == 1
    assert await world.events(FAILED) == []
    [outbox] = await world.rows("SELECT * FROM email_outbox")
    assert (outbox["attempts"], outbox["state"], outbox["last_error"]) == (0, "pending", "inventory unavailable")
    assert smtp_server.messages == []


async def test_no_card_key_plaintext_is_stored_in_any_column_whatever_happened_to_the_delivery(
    world: Any, world_factory: Callable[..., Any], smtp_server: CapturingSmtpServer
) -> None:
    sent = world.reserve(keys=2)
    await world.handle(sent.record)
    await world.sender().run_once()
    await smtp_server.wait_for_async()

    down_port = free_port()
    flaky = world_factory(down_port, smtp_max_attempts=2, smtp_retry_base_s=0.01)
    retried = flaky.reserve(keys=1)
    given_up = flaky.reserve(keys=1)
    await flaky.handle(retried.record, given_up.record)
    await flaky.sender().run_once()  # both fail
    await asyncio.sleep(0.05)
    await flaky.sender().run_once()  # both fail again: the last attempt, so both are given up
    await flaky.handle(flaky.reserve(order_id=retried.order_id).record)  # a repeat changes nothing

    short = world.reserve(keys=2)
    world.inventory.keys[short.order_id] = world.inventory.keys[short.order_id][:1]  # reveals one of two
    await world.handle(short.record)
    await world.sender().run_once()  # the reveal does not match: a failed attempt naming key ids only

    states = await world.rows("SELECT order_id, state, last_error FROM email_outbox")
    by_order = {s["order_id"]: s for s in states}
    assert by_order[retried.order_id]["state"] == by_order[given_up.order_id]["state"] == "failed"
    assert "could not be revealed" in by_order[short.order_id]["last_error"]
    secrets = [*sent.secrets, *retried.secrets, *given_up.secrets, *short.secrets]
    await world.assert_no_plaintext(secrets)


async def test_a_woken_sender_sends_at_once_without_waiting_for_its_poll(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    sender = world.sender(email_idle_recheck_s=60)
    running = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.2)  # its first look found nothing; the next is a minute away
        reserved = world.reserve(keys=1)
        assert await world.handle(reserved.record) == 1
        sender.wake(1)
        mail = await smtp_server.wait_for_async(
            lambda m: m["Subject"] == f"Your order {reserved.order_id}", timeout=5
        )
        assert mail["To"] == "buyer@example.com"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
