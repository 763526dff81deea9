"""The e-mail sender against real Postgres, a real SMTP server and inventory over gRPC: it claims, commits,
and only then talks to the network; a lapsed claim is sent again; an idle sender does no work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.application.email import claim_due_emails
from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.testing.statements import CountingConnection

STARTED = fulfillment_events.EmailAttemptStarted.DESCRIPTOR.full_name
SENT = fulfillment_events.EmailSent.DESCRIPTOR.full_name
FAILED = fulfillment_events.EmailAttemptFailed.DESCRIPTOR.full_name


class HoldingSmtpServer(CapturingSmtpServer):
    """Accepts a message only once `release` is set; `holding` is set while it holds one."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.holding.set()
        await asyncio.to_thread(self.release.wait, 10)
        return await super().handle_DATA(server, session, envelope)


async def open_transactions(world: Any) -> list[dict[str, Any]]:
    """The database's sessions that are inside a transaction, other than the one asking."""
    return await world.rows(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
    )


async def test_the_sender_holds_no_transaction_while_it_reveals_keys_and_talks_to_the_mail_server(
    world_factory: Callable[..., Any],
) -> None:
    smtp = HoldingSmtpServer()
    smtp.start()
    try:
        world = world_factory(smtp.port)
        reserved = world.reserve(keys=2)
        await world.handle(reserved.record)
        sending = asyncio.create_task(world.sender().run_once())
        try:
            await asyncio.to_thread(smtp.holding.wait, 10)  # the message is on the wire, not yet accepted
            assert await open_transactions(world) == []
            [(_, started)] = await world.events(STARTED)  # the claim is already committed
            assert (started.attempt, started.lease) == (1, 1)
            assert await world.events(SENT) == []
        finally:
            smtp.release.set()
            tried = await sending
    finally:
        smtp.stop()
    assert tried == 1
    assert len(smtp.messages) == 1
    assert len(await world.events(SENT)) == 1


async def test_a_claim_whose_outcome_never_came_is_sent_again_once_its_lease_runs_out(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    reserved = world.reserve(keys=1)
    await world.handle(reserved.record)
    # A sender claimed the e-mail for half a second and died before sending or recording anything.
    crashed = await claim_due_emails(world.uow, datetime.now(UTC), 10, lease_s=0.5)
    assert [c.order_id for c in crashed.claims] == [reserved.order_id]

    sender = world.sender()
    assert await sender.run_once() == 0  # still leased to the dead sender

    async def sent_again() -> bool:
        await sender.run_once()
        return bool(smtp_server.messages)

    await world.wait(sent_again, 10)
    started = [p for _, p in await world.events(STARTED)]
    assert [(p.attempt, p.lease) for p in started] == [(1, 1), (1, 2)]  # the same attempt, a new claim
    [(_, sent)] = await world.events(SENT)
    assert (sent.attempt, sent.lease) == (1, 2)
    [outbox] = await world.rows("SELECT state, attempts, lease FROM email_outbox")
    assert (outbox["state"], outbox["attempts"], outbox["lease"]) == ("sent", 1, 2)


async def test_two_claims_at_once_never_take_the_same_email(world: Any) -> None:
    reserved = [world.reserve(keys=1) for _ in range(6)]
    await world.handle(*(r.record for r in reserved))
    now = datetime.now(UTC)

    async with world.uow() as first:
        mine = await first.deliveries.claim_due(now, 4)
        async with world.uow() as second:  # while the first still holds its claim
            theirs = await second.deliveries.claim_due(now, 4)

    assert len(mine.deliveries) == 4 and len(theirs.deliveries) == 2
    assert {d.order_id for d in mine.deliveries} | {d.order_id for d in theirs.deliveries} == {
        r.order_id for r in reserved
    }


class CountingUnitsOfWork:
    """The world's unit-of-work factory, counting the units of work the sender opens."""

    def __init__(self, inner: Callable[[], FulfillmentUnitOfWork]) -> None:
        self.inner = inner
        self.opened = 0

    def __call__(self) -> FulfillmentUnitOfWork:
        self.opened += 1
        return self.inner()


async def test_an_idle_sender_does_no_work_and_wakes_for_the_next_retry_by_itself(
    world_factory: Callable[..., Any],
) -> None:
    port = free_port()  # nothing listens yet: the first attempt fails, the retry is due 0.4 s later
    world = world_factory(port, smtp_retry_base_s=0.2)
    counting = CountingUnitsOfWork(world.uow)
    sender = world.sender(counting, email_idle_recheck_s=60)
    running = asyncio.create_task(sender.run())
    try:
        await world.wait(lambda: _true(counting.opened >= 1))
        idle_start = counting.opened
        await asyncio.sleep(0.5)  # an idle half second: no claim, no query
        assert counting.opened == idle_start

        reserved = world.reserve(keys=1)
        await world.handle(reserved.record)
        sender.wake(1)  # what the consumer's on_applied hook does
        await world.wait(lambda: _has(world, FAILED))
        with CapturingSmtpServer(port=port) as smtp:
            await world.wait(lambda: _true(bool(smtp.messages)), 10)  # the retry came without a wake
            await world.wait(lambda: _has(world, SENT))  # its outcome is recorded after the server took it
        # claim + outcome of the failed attempt, a look for the next due time, claim + outcome of the retry,
        # and perhaps one more look: a fast poll would have opened dozens.
        assert counting.opened - idle_start <= 7, counting.opened - idle_start
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    [(_, sent)] = await world.events(SENT)
    assert sent.attempt == 2


async def test_deliveries_that_come_close_together_share_one_round_of_the_sender(
    world: Any, smtp_server: CapturingSmtpServer
) -> None:
    counting = CountingUnitsOfWork(world.uow)
    sender = world.sender(counting, email_gather_ms=1500)
    running = asyncio.create_task(sender.run())
    try:
        await world.wait(lambda: _true(counting.opened >= 1))  # its first look finds nothing
        idle_start = counting.opened
        for _ in range(3):  # three consumer batches, each waking the sender as on_applied does
            await world.handle(world.reserve(keys=1).record)
            sender.wake(1)
        await world.wait(lambda: _true(len(smtp_server.messages) == 3), 10)
        await world.wait(lambda: _has_n(world, SENT, 3))
        assert counting.opened - idle_start == 2  # one claim of all three, one record of their outcomes
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def _has_n(world: Any, event_type: str, n: int) -> bool:
    return len(await world.events(event_type)) >= n


async def _has(world: Any, event_type: str) -> bool:
    return bool(await world.events(event_type))


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("size", [1, 30])
async def test_a_round_of_the_sender_costs_five_statements_however_many_emails_it_sends(
    world: Any, smtp_server: CapturingSmtpServer, counted_pool: AsyncConnectionPool, size: int
) -> None:
    await world.handle(*(world.reserve(keys=2).record for _ in range(size)))
    sender = world.sender(bootstrap.unit_of_work(world.store, counted_pool), email_batch_size=50)
    CountingConnection.statements.clear()

    assert await sender.run_once() == size

    # claim (one statement that locks, reads and finds the next due time), its events, email_outbox;
    # then the outcomes' events and email_outbox.
    assert len(CountingConnection.statements) == 5, CountingConnection.statements
    assert len(await world.events(SENT)) == size
