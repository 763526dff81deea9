"""Fulfillment's unit of work and DeliveryRepository: one suite against Postgres and the in-memory fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_fulfillment.adapters.memory import InMemoryFulfillmentUnitOfWork
from quanyi_fulfillment.adapters.postgres import PgFulfillmentUnitOfWork
from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_fulfillment.application.queries import ChannelStep, channel_history, list_deliveries
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    EmailStatus,
    Failed,
    Sent,
    deliver,
    evolve_all,
    record_outcome,
    redeem,
    start_attempt,
)
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.errors import KeyAlreadyDelivered
from quanyi_fulfillment.domain.events import (
    CHANNEL_REQUEST,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Recorded,
)
from quanyi_fulfillment.domain.kept_channels import (
    KeptCancelled,
    KeptDelivered,
    KeptStatus,
    evolve_kept,
    finish_kept,
    start_kept,
)
from quanyi_fulfillment.domain.retry import RetryPolicy
from quanyi_platform import paging
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore
from quanyi_platform.testing.contracts import EventLogContract, Versions
from quanyi_platform.uow import InMemoryEventLog

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=2, base_s=10.0, cap_s=60.0)

UnitOfWorkFactory = Callable[[], FulfillmentUnitOfWork]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reservation(order_id: str, *key_ids: str, buyer_id: str = "buyer-1", email: str = "b@example.com") -> Reservation:
    keys = tuple(
        ReservedKey(k, "sku-1", 1 + n // 2, 1 + n % 2, Money(700 + n, "CNY")) for n, k in enumerate(key_ids)
    )
    return Reservation(order_id, buyer_id if email else "", keys, "web")


@pytest.fixture(params=["memory", "postgres"])
def unit_of_work(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        log = InMemoryEventLog("fulfillment")
        return lambda: InMemoryFulfillmentUnitOfWork(log)
    pool: AsyncConnectionPool = request.getfixturevalue("pool")
    store: EventStore = request.getfixturevalue("store")
    return lambda: PgFulfillmentUnitOfWork(store, pool=pool)


async def record(unit_of_work: UnitOfWorkFactory, records: list[Recorded]) -> None:
    async with unit_of_work() as uow:
        await uow.record(records)
        await uow.commit()


async def delivered(unit_of_work: UnitOfWorkFactory, r: Reservation, seconds: float = 0) -> Delivery:
    records = deliver(None, r, at(seconds))
    await record(unit_of_work, records)
    state = evolve_all(None, records)
    assert state is not None
    return state


async def load(unit_of_work: UnitOfWorkFactory, *order_ids: str) -> dict[str, Delivery]:
    async with unit_of_work() as uow:
        return await uow.deliveries.get_many(order_ids)


class TestFulfillmentEventLog(EventLogContract):
    """Fulfillment's units of work keep the platform's EventLog contract, with its projections running."""

    @pytest.fixture(params=["memory", "postgres"])
    def backend(self, request: pytest.FixtureRequest) -> tuple[UnitOfWorkFactory, Versions]:
        if request.param == "memory":
            log = InMemoryEventLog("fulfillment")

            async def fake_versions(aggregate_id: str) -> list[int]:
                return [e.aggregate_version for e in log.committed if e.aggregate_id == aggregate_id]

            return (lambda: InMemoryFulfillmentUnitOfWork(log)), fake_versions
        pool: AsyncConnectionPool = request.getfixturevalue("pool")
        store: EventStore = request.getfixturevalue("store")

        async def pg_versions(aggregate_id: str) -> list[int]:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq", (aggregate_id,)
                )
                found: list[Any] = await cur.fetchall()
                return [int(r["v"]) for r in found]

        return (lambda: PgFulfillmentUnitOfWork(store, pool=pool)), pg_versions

    @pytest.fixture
    def uow_factory(self, backend: tuple[UnitOfWorkFactory, Versions]) -> UnitOfWorkFactory:
        return backend[0]

    @pytest.fixture
    def committed_versions(self, backend: tuple[UnitOfWorkFactory, Versions]) -> Versions:
        return backend[1]


async def test_a_recorded_delivery_loads_as_the_fold_of_its_events(unit_of_work: UnitOfWorkFactory) -> None:
    state = await delivered(unit_of_work, reservation("o-1", "k-2", "k-1", "k-3"))

    loaded = await load(unit_of_work, "o-1", "o-unknown")

    assert loaded == {"o-1": state}
    assert [k.key_id for k in loaded["o-1"].keys] == ["k-2", "k-1", "k-3"]  # by line and unit
    assert loaded["o-1"].email is not None and loaded["o-1"].email.status is EmailStatus.PENDING
    assert await load(unit_of_work) == {}


async def test_a_delivery_without_an_email_address_has_no_email_and_stays_at_version_one(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    state = await delivered(unit_of_work, reservation("o-1", "k-1", email=""))

    assert (await load(unit_of_work, "o-1"))["o-1"] == state
    assert (state.version, state.email) == (1, None)


async def test_every_email_outcome_and_a_redemption_load_as_their_fold(unit_of_work: UnitOfWorkFactory) -> None:
    state: Delivery | None = await delivered(unit_of_work, reservation("o-1", "k-1", "k-2"))
    steps = [
        lambda s: start_attempt(s, at(1), 30),
        lambda s: record_outcome(s, 1, Failed("smtp: refused"), POLICY, at(2)),
        lambda s: start_attempt(s, at(30), 30),
        lambda s: record_outcome(s, 2, Sent(), POLICY, at(31)),
        lambda s: redeem(s, "k-2", "tmall", at(40), at(41)),
    ]
    for step in steps:
        assert state is not None
        records = step(state)
        assert records
        await record(unit_of_work, records)
        state = evolve_all(state, records)

    assert state is not None and state.email is not None
    assert (await load(unit_of_work, "o-1"))["o-1"] == state
    # KeyDelivered, EmailQueued, then started, failed + DeliveryFailed, started, sent + ChannelDelivered
    assert (state.email.status, state.email.attempts, state.version) == (EmailStatus.SENT, 2, 8)
    assert state.key("k-2") is not None and state.key("k-2").redeemed_by_partner == "tmall"  # type: ignore[union-attr]


async def test_a_key_is_found_in_the_delivery_that_holds_it(unit_of_work: UnitOfWorkFactory) -> None:
    first = await delivered(unit_of_work, reservation("o-1", "k-1", "k-2"))
    await delivered(unit_of_work, reservation("o-2", "k-3"))

    async with unit_of_work() as uow:
        assert await uow.deliveries.by_key("k-2") == first
        assert await uow.deliveries.by_key("k-unknown") is None


async def test_a_buyer_sees_their_deliveries_newest_first_and_only_theirs(unit_of_work: UnitOfWorkFactory) -> None:
    later = await delivered(unit_of_work, reservation("o-a", "k-1", buyer_id="b-1"), seconds=10)
    earlier = await delivered(unit_of_work, reservation("o-z", "k-2", "k-3", buyer_id="b-1"), seconds=5)
    await delivered(unit_of_work, reservation("o-other", "k-4", buyer_id="b-2"), seconds=1)

    async with unit_of_work() as uow:
        assert await uow.deliveries.for_buyer("b-1", 10) == [later, earlier]
        assert await uow.deliveries.for_buyer("b-1", 10, order_ids=["o-a"]) == [later]
        assert await uow.deliveries.for_buyer("b-1", 10, order_ids=["o-other"]) == []
        assert await uow.deliveries.for_buyer("b-nobody", 10) == []


async def test_a_buyer_pages_their_deliveries_while_more_are_delivered_and_sees_each_once_in_order(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    # Ties on delivered_at are broken by the order id; a page holds whole deliveries (all their keys).
    for n in range(5):
        await delivered(unit_of_work, reservation(f"o-{n}", f"k-{n}a", f"k-{n}b", buyer_id="b-1"), seconds=n // 2)
    seen: list[Delivery] = []
    token = ""
    while True:
        page, token = await list_deliveries(unit_of_work, "b-1", limit=2, page_token=token)
        seen.extend(page)
        assert all(len(d.keys) == 2 for d in page)
        if len(seen) == 2:  # delivered while the buyer pages: newer than the position, so not on later pages
            await delivered(unit_of_work, reservation("o-new", "k-new", buyer_id="b-1"), seconds=60)
        if not token:
            break
    assert [d.order_id for d in seen] == ["o-4", "o-3", "o-2", "o-1", "o-0"]
    assert [d.order_id for d in (await list_deliveries(unit_of_work, "b-1", limit=2))[0]] == ["o-new", "o-4"]
    mine, last = await list_deliveries(unit_of_work, "b-1", ["o-1", "o-3", "o-other"])
    assert ([d.order_id for d in mine], last) == (["o-3", "o-1"], "")
    with pytest.raises(paging.InvalidPageToken):
        await list_deliveries(unit_of_work, "b-1", page_token="not-a-token")


async def test_due_emails_are_claimed_oldest_first_up_to_the_limit_with_the_next_due_time(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    second = await delivered(unit_of_work, reservation("o-2", "k-2"), seconds=2)
    first = await delivered(unit_of_work, reservation("o-1", "k-1"), seconds=1)
    await delivered(unit_of_work, reservation("o-3", "k-3"), seconds=3)
    await delivered(unit_of_work, reservation("o-4", "k-4"), seconds=60)

    async with unit_of_work() as uow:
        due = await uow.deliveries.claim_due(at(10), limit=2)
        none_yet = await uow.deliveries.claim_due(at(0), limit=10)

    assert due.deliveries == [first, second]
    assert due.next_due == at(60)  # o-3 is due too but beyond the limit; o-4 is the first not due
    assert (none_yet.deliveries, none_yet.next_due) == ([], at(1))


async def attempt(unit_of_work: UnitOfWorkFactory, order_id: str, seconds: float, outcome: Sent | Failed) -> None:
    """One claimed attempt at `seconds` and its outcome a second later, recorded together."""
    state = (await load(unit_of_work, order_id))[order_id]
    started = start_attempt(state, at(seconds), 30)
    claimed = evolve_all(state, started)
    assert started and claimed is not None and claimed.email is not None
    await record(unit_of_work, [*started, *record_outcome(claimed, claimed.email.lease, outcome, POLICY, at(seconds + 1))])


async def test_sent_and_given_up_emails_are_never_claimed_and_a_lapsed_claim_is_due_again(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await delivered(unit_of_work, reservation("o-sent", "k-1"))
    await delivered(unit_of_work, reservation("o-given-up", "k-2"))
    lapsed = await delivered(unit_of_work, reservation("o-lapsed", "k-3"))
    await attempt(unit_of_work, "o-sent", 1, Sent())
    await attempt(unit_of_work, "o-given-up", 1, Failed("smtp: refused"))
    await attempt(unit_of_work, "o-given-up", 25, Failed("smtp: refused"))  # the last of POLICY's two
    await record(unit_of_work, start_attempt(lapsed, at(3), 30))  # its sender died: no outcome

    async with unit_of_work() as uow:
        while_leased = await uow.deliveries.claim_due(at(32), limit=10)
        after_lease = await uow.deliveries.claim_due(at(33), limit=10)

    assert (while_leased.deliveries, while_leased.next_due) == ([], at(33))
    [again] = after_lease.deliveries
    assert again.order_id == "o-lapsed" and again.email is not None and again.email.status is EmailStatus.SENDING
    assert after_lease.next_due is None
    states = await load(unit_of_work, "o-sent", "o-given-up")
    assert {o: s.email.status for o, s in states.items() if s.email} == {
        "o-sent": EmailStatus.SENT, "o-given-up": EmailStatus.FAILED
    }


async def test_a_key_already_in_another_order_is_refused_and_nothing_of_the_unit_is_kept(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await delivered(unit_of_work, reservation("o-1", "k-1"))

    with pytest.raises(KeyAlreadyDelivered):
        async with unit_of_work() as uow:
            await uow.record(deliver(None, reservation("o-2", "k-9"), at(1)))
            await uow.record(deliver(None, reservation("o-3", "k-1"), at(1)))
            await uow.commit()

    assert set(await load(unit_of_work, "o-1", "o-2", "o-3")) == {"o-1"}


async def test_a_unit_of_work_sees_its_own_appends_and_keeps_nothing_without_commit(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    async with unit_of_work() as uow:
        await uow.record(deliver(None, reservation("o-1", "k-1"), at(0)))
        assert set(await uow.deliveries.get_many(["o-1"])) == {"o-1"}

    assert await load(unit_of_work, "o-1") == {}


async def test_a_key_redeemed_twice_at_once_is_a_conflict(unit_of_work: UnitOfWorkFactory) -> None:
    state = await delivered(unit_of_work, reservation("o-1", "k-1"))
    await record(unit_of_work, redeem(state, "k-1", "tmall", at(5), at(6)))

    with pytest.raises(ConcurrencyConflict):
        await record(unit_of_work, redeem(state, "k-1", "jd", at(7), at(8)))  # decided from a stale state

    key = (await load(unit_of_work, "o-1"))["o-1"].key("k-1")
    assert key is not None and (key.redeemed_by_partner, key.redeemed_at) == ("tmall", at(5))


async def test_an_orders_channel_steps_are_read_from_its_own_events_in_order(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await delivered(unit_of_work, reservation("o-hist", "k-h1"))
    await delivered(unit_of_work, reservation("o-other", "k-h2"))
    await record(unit_of_work, [
        Recorded(CHANNEL_REQUEST, "req-1", 1, ChannelRequested("o-hist", "sms", "buyer:b1", at(5))),
        Recorded(CHANNEL_REQUEST, "req-1", 2, ChannelDelivered("o-hist", "sms", 2, at(6))),
        Recorded(CHANNEL_REQUEST, "req-2", 1, ChannelRequested("o-other", "sms", "buyer:b2", at(7))),
        Recorded(CHANNEL_REQUEST, "req-3", 1, ChannelRequested("o-hist", "activation", "ops:x", at(8))),
        Recorded(CHANNEL_REQUEST, "req-3", 2, DeliveryFailed("o-hist", 3, "partner down", True, at(9), "activation")),
    ])
    assert await channel_history(unit_of_work, ["o-hist", "o-other", "o-unknown"]) == {
        "o-hist": [
            ChannelStep("sms", "requested", at(5), requested_by="buyer:b1"),
            ChannelStep("sms", "delivered", at(6), 2),
            ChannelStep("activation", "requested", at(8), requested_by="ops:x"),
            ChannelStep("activation", "failed", at(9), 3, True),
        ],
        "o-other": [ChannelStep("sms", "requested", at(7), requested_by="buyer:b2")],
    }
    assert await channel_history(unit_of_work, ["o-unknown"]) == {}


async def test_kept_channel_deliveries_are_claimed_when_due_and_leave_the_queue_with_their_outcome(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    state = await delivered(unit_of_work, reservation("o-kept", "k-kept-1"))
    claimed = evolve_all(state, start_attempt(state, at(1), 30))
    assert claimed is not None and claimed.email is not None
    await record(unit_of_work, record_outcome(claimed, claimed.email.lease, Sent(("sms", "app")), POLICY, at(2)))

    async with unit_of_work() as uow:
        due = await uow.kept.claim_due(at(1), 10)
        assert (due.deliveries, due.next_due) == ([], at(2))  # not due before it was requested
        due = await uow.kept.claim_due(at(3), 10)
    assert [(d.channel, d.status, d.version) for d in due.deliveries] == [
        ("app", KeptStatus.PENDING, 1), ("sms", KeptStatus.PENDING, 1)
    ]
    app, sms = due.deliveries
    started = start_kept(app, at(3), 30) + start_kept(sms, at(3), 30)
    await record(unit_of_work, started)
    async with unit_of_work() as uow:
        assert (await uow.kept.claim_due(at(4), 10)).deliveries == []  # held until at(33)
        lapsed = await uow.kept.claim_due(at(33), 1)
        loaded = await uow.kept.get_many([("o-kept", "app"), ("o-kept", "sms"), ("o-kept", "webhook")])
    app_after, sms_after = (evolve_kept(s, r) for s, r in zip((app, sms), started, strict=True))
    assert app_after is not None and sms_after is not None
    assert loaded == {("o-kept", "app"): app_after, ("o-kept", "sms"): sms_after}
    assert [d.channel for d in lapsed.deliveries] == ["app"]

    await record(unit_of_work, finish_kept(app_after, 1, KeptDelivered(1), at(5))
                 + finish_kept(sms_after, 1, KeptCancelled("the buyer keeps no sms target"), at(5)))
    async with unit_of_work() as uow:
        assert (await uow.kept.claim_due(at(1000), 10)).deliveries == []
        assert await uow.kept.get_many([("o-kept", "app"), ("o-kept", "sms")]) == {}
