"""The sender's network I/O against a real SMTP server and inventory over gRPC: one reveal per round, SMTP
connections kept open across messages and rounds (bounded, closed when idle, replaced when dropped), and a
failed message following the usual retry rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

SENT = fulfillment_events.EmailSent.DESCRIPTOR.full_name
ATTEMPT_FAILED = fulfillment_events.EmailAttemptFailed.DESCRIPTOR.full_name


class SessionsSmtpServer(CapturingSmtpServer):
    """Notes the client end (host, port) of the connection each message came over, and refuses the
    recipient `refused@example.com`."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port=port)
        self.peers: list[tuple[str, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address == "refused@example.com":
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # long enough for the sends of a round to overlap
            self.peers.append(tuple(session.peer[:2]))
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.in_flight -= 1


@pytest.fixture
def sessions_server() -> Any:
    server = SessionsSmtpServer()
    server.start()
    yield server
    server.stop()


async def test_a_round_reveals_every_order_in_one_call_and_sends_over_a_few_connections_kept_for_the_next(
    world_factory: Callable[..., Any], sessions_server: SessionsSmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = world_factory(sessions_server.port, smtp_concurrency=3, smtp_idle_close_s=30)
    first = [world.reserve(keys=2) for _ in range(12)]
    await world.handle(*(r.record for r in first))
    sender = world.sender()

    assert await sender.run_once() == 12
    assert len(world.inventory.batches) == 1  # one RevealOrdersKeys for the whole round
    assert sorted(o.order_id for o in world.inventory.batches[0].orders) == sorted(r.order_id for r in first)
    assert {(c.actor, c.purpose) for c in world.inventory.calls} == {("fulfillment", "delivery")}
    assert len(sessions_server.messages) == 12
    assert 1 < len(set(sessions_server.peers)) <= 3  # concurrent, but on at most three connections
    assert sessions_server.most_in_flight <= 3

    second = [world.reserve(keys=1) for _ in range(5)]
    await world.handle(*(r.record for r in second))
    assert await sender.run_once() == 5
    assert len(world.inventory.batches) == 2
    assert len(set(sessions_server.peers)) <= 3  # the next round reuses the open connections
    assert len(await world.events(SENT)) == 17
    await world.assert_no_plaintext([s for r in first + second for s in r.secrets])
    assert not any(s in caplog.text for r in first + second for s in r.secrets)


async def test_connections_left_idle_are_closed_and_the_next_email_opens_a_new_one(
    world_factory: Callable[..., Any], sessions_server: SessionsSmtpServer
) -> None:
    world = world_factory(sessions_server.port, smtp_concurrency=2, smtp_idle_close_s=0.2)
    sender = world.sender()
    [mailer] = world.mailers
    first = world.reserve(keys=1)
    await world.handle(first.record)
    assert await sender.run_once() == 1
    assert mailer.open_connections == 1

    await world.wait(lambda: _true(mailer.open_connections == 0), 5)  # closed once idle
    second = world.reserve(keys=1)
    await world.handle(second.record)
    assert await sender.run_once() == 1
    assert mailer.connects == 2
    assert len(set(sessions_server.peers)) == 2
    assert len(await world.events(SENT)) == 2


async def test_a_kept_connection_the_server_dropped_is_replaced_without_failing_the_email(
    world_factory: Callable[..., Any],
) -> None:
    port = free_port()
    world = world_factory(port, smtp_idle_close_s=30)
    sender = world.sender()
    with CapturingSmtpServer(port=port) as before:
        first = world.reserve(keys=1)
        await world.handle(first.record)
        assert await sender.run_once() == 1
        assert len(before.messages) == 1
    # The server went away and came back: the connection the mailer kept is dead.
    with CapturingSmtpServer(port=port) as after:
        second = world.reserve(keys=1)
        await world.handle(second.record)
        assert await sender.run_once() == 1
        assert len(after.messages) == 1
    assert await world.events(ATTEMPT_FAILED) == []
    assert len(await world.events(SENT)) == 2


async def test_a_refused_message_fails_alone_and_is_retried_while_the_rest_of_its_round_is_sent(
    world_factory: Callable[..., Any], sessions_server: SessionsSmtpServer
) -> None:
    world = world_factory(sessions_server.port, smtp_retry_base_s=0.01, smtp_max_attempts=2)
    good = [world.reserve(keys=1) for _ in range(4)]
    bad = world.reserve(keys=1, email="refused@example.com")
    await world.handle(*(r.record for r in [*good[:2], bad, *good[2:]]))
    sender = world.sender()

    assert await sender.run_once() == 5
    assert len(sessions_server.messages) == 4
    [(env, failed)] = await world.events(ATTEMPT_FAILED)
    assert (env.aggregate_id, failed.attempt, failed.reason) == (bad.order_id, 1, "smtp: recipient refused")

    await asyncio.sleep(0.05)
    assert await sender.run_once() == 1  # only the refused one is due again, and it is the last attempt
    rows = await world.rows("SELECT order_id, state, attempts FROM email_outbox ORDER BY order_id")
    states = {r["order_id"]: (r["state"], r["attempts"]) for r in rows}
    assert states[bad.order_id] == ("failed", 2)
    assert all(states[r.order_id] == ("sent", 1) for r in good)
    assert len(sessions_server.messages) == 4


async def test_one_order_inventory_refuses_fails_alone_and_the_rest_of_its_round_is_sent(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    orders = [world.reserve(keys=2) for _ in range(3)]
    del world.inventory.keys[orders[1].order_id]  # inventory answers NOT_FOUND for this one
    await world.handle(*(r.record for r in orders))

    assert await world.sender().run_once() == 3
    assert len(world.inventory.batches) == 1
    assert len(smtp_server.messages) == 2
    [(env, failed)] = await world.events(ATTEMPT_FAILED)
    assert env.aggregate_id == orders[1].order_id
    assert failed.reason == "keys could not be revealed: inventory RevealOrdersKeys: NOT_FOUND"


async def test_an_inventory_without_the_batched_reveal_is_asked_one_order_at_a_time(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    world.inventory.batched = False
    orders = [world.reserve(keys=1) for _ in range(3)]
    await world.handle(*(r.record for r in orders))

    assert await world.sender().run_once() == 3
    assert world.inventory.batches == []
    assert sorted(c.order_id for c in world.inventory.calls) == sorted(r.order_id for r in orders)
    assert len(smtp_server.messages) == 3
    assert len(await world.events(SENT)) == 3


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize(
    ("sender", "to", "subject", "body", "charset"),
    [
        ("quanyi <no-reply@quanyi.local>", "buyer@example.com", "Your order o-1", "Code: A-1\n.dot\n\tTab\n",
         "us-ascii"),
        ("Quányī 商店 <no-reply@quanyi.local>", "Zoë <zoe@example.com>", "Bestellung ö-1", "Code: ÄÖ-1\n",
         "utf-8"),
        ("quanyi <no-reply@quanyi.local>", "buyer@example.com", "x" * 1200, "long\n" + "y" * 1500 + "\n",
         "utf-8"),
    ],
    ids=["plain ascii, written directly", "non-ascii, encoded", "over-long lines, folded"],
)
async def test_a_message_arrives_with_its_headers_and_body_however_it_had_to_be_encoded(
    sessions_server: SessionsSmtpServer, world: Any, sender: str, to: str, subject: str, body: str, charset: str
) -> None:
    from quanyi_fulfillment.domain.mail import MailContent

    settings = world.settings.model_copy(update={"smtp_from": sender, "smtp_port": sessions_server.port})
    mailer = world.mailer(settings)
    await mailer.send(to, MailContent(subject, body))
    [delivery] = sessions_server.deliveries
    mail = delivery.message
    assert (str(mail["From"]), str(mail["To"]), str(mail["Subject"])) == (sender, to, subject)
    assert delivery.mail_from == "no-reply@quanyi.local"
    assert delivery.rcpt_tos == (to.split("<")[-1].rstrip(">"),)
    assert mail["Message-ID"] and mail["Date"]
    assert mail.get_content_charset() == charset  # us-ascii: written directly; utf-8: the email package
    content = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert content.replace("\r\n", "\n") == body  # SMTP's line ends, as the server kept them
