"""Fulfillment's EntitlementRepository: one suite against Postgres and the in-memory fake. A buyer's points
and memberships as loaded equal the fold of the grants recorded through deliver_reservations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_fulfillment.adapters.memory import InMemoryFulfillmentUnitOfWork
from quanyi_fulfillment.adapters.postgres import PgFulfillmentUnitOfWork
from quanyi_fulfillment.application.deliver import deliver_reservations
from quanyi_fulfillment.application.queries import list_entitlements
from quanyi_fulfillment.application.refunds import take_back_refunded
from quanyi_fulfillment.domain import entitlements
from quanyi_fulfillment.domain.delivery import MEMBERSHIP, POINTS, Money, Reservation, ReservedEntitlement
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore
from quanyi_platform.uow import InMemoryEventLog

from .test_ports import UnitOfWorkFactory

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["memory", "postgres"])
def uows(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        log = InMemoryEventLog("fulfillment")
        return lambda: InMemoryFulfillmentUnitOfWork(log)
    pool: AsyncConnectionPool = request.getfixturevalue("pool")
    store: EventStore = request.getfixturevalue("store")
    return lambda: PgFulfillmentUnitOfWork(store, pool=pool)


def perks(order_id: str, buyer_id: str, days: int = 30, plan: str = "vip") -> Reservation:
    return Reservation(order_id, buyer_id, (), "web", (
        ReservedEntitlement(1, 1, "box", POINTS, 300, "", 0, Money(150, "CNY")),
        ReservedEntitlement(1, 2, "box", MEMBERSHIP, 0, plan, days, Money(0, "")),
    ))


async def test_memberships_and_points_load_as_the_fold_of_their_grants(uows: UnitOfWorkFactory) -> None:
    recorded = await deliver_reservations(uows(), [(perks("o-1", "b-1"), "")], T0)
    recorded += await deliver_reservations(
        uows(), [(perks("o-2", "b-1", 7), ""), (perks("o-3", "b-2", 5, "gold"), "")], T0 + DAY
    )
    folded = entitlements.fold(recorded)
    async with uows() as uow:
        loaded = await uow.entitlements.memberships([("b-1", "vip"), ("b-2", "gold"), ("b-2", "vip")])
        assert loaded == folded
        assert await uow.entitlements.granted_orders(["o-1", "o-3", "o-9"]) == {"o-1", "o-3"}
    mine = await list_entitlements(uows, "b-1")
    assert mine.points_balance == 600
    assert [(c.order_id, c.points) for c in mine.credits] == [("o-1", 300), ("o-2", 300)]
    assert [(m.plan, m.valid_until) for m in mine.memberships] == [("vip", T0 + 37 * DAY)]
    assert [(g.order_id, g.valid_from, g.valid_until) for g in mine.grants] == [
        ("o-1", T0, T0 + 30 * DAY), ("o-2", T0 + 30 * DAY, T0 + 37 * DAY)
    ]
    nobody = await list_entitlements(uows, "b-9")
    assert (nobody.points_balance, nobody.credits, nobody.memberships, nobody.grants) == (0, [], [], [])


async def test_two_grants_of_one_plan_decided_on_the_same_membership_conflict(
    uows: UnitOfWorkFactory,
) -> None:
    await deliver_reservations(uows(), [(perks("o-1", "b-1"), "")], T0)
    async with uows() as uow:
        held = await uow.entitlements.memberships([("b-1", "vip")])
    # Two deliveries that both read version 1 of the buyer's vip membership: the second to commit conflicts.
    first = entitlements.grant(perks("o-2", "b-1"), held, T0)
    second = entitlements.grant(perks("o-3", "b-1"), held, T0)
    async with uows() as uow:
        await uow.record([r for r in first if r.stream == "Membership"])
        await uow.commit()
    try:
        async with uows() as uow:
            await uow.record([r for r in second if r.stream == "Membership"])
            await uow.commit()
    except ConcurrencyConflict:
        pass
    else:
        raise AssertionError("a second grant of the same version was recorded")


async def test_a_refunds_take_back_loads_the_same_on_both_and_twice_records_nothing(
    uows: UnitOfWorkFactory,
) -> None:
    await deliver_reservations(uows(), [(perks("o-1", "b-1"), ""), (perks("o-2", "b-1", 7), "")], T0)
    taken = await take_back_refunded(uows(), [("o-1", "e-1"), ("o-1", "e-2"), ("o-9", "e-3")], T0 + DAY)
    assert [(r.stream_id, r.version, r.causation_id) for r in taken] == [
        ("o-1:1:1", 2, "e-1"), ("b-1:vip", 3, "e-1")
    ]
    assert await take_back_refunded(uows(), [("o-1", "e-4")], T0 + 2 * DAY) == []
    mine = await list_entitlements(uows, "b-1")
    assert mine.points_balance == 300
    assert [(c.order_id, c.debited_at) for c in mine.credits] == [("o-1", T0 + DAY), ("o-2", None)]
    assert [(m.plan, m.valid_until, m.version) for m in mine.memberships] == [("vip", T0 + 7 * DAY, 3)]
    assert [(g.order_id, g.shortened_at) for g in mine.grants] == [("o-1", T0 + DAY), ("o-2", None)]
