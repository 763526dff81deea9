"""Risk's ports, one suite against both implementations: Postgres and the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.testing.contracts import EventLogContract, Versions
from quanyi_platform.uow import InMemoryEventLog
from quanyi_risk.adapters.memory import InMemoryRiskUnitOfWork
from quanyi_risk.adapters.postgres import PgRiskUnitOfWork
from quanyi_risk.adapters.proto import decided_new_event
from quanyi_risk.application.ports import RiskUnitOfWork
from quanyi_risk.domain.assessment import AssessOrder, BuyerVelocity, RiskDecided
from quanyi_risk.domain.velocity import Decision

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)

UnitOfWorkFactory = Callable[[], RiskUnitOfWork]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=["memory", "postgres"])
def unit_of_work(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        log = InMemoryEventLog("risk")
        return lambda: InMemoryRiskUnitOfWork(log)
    pool = request.getfixturevalue("pool")
    store = request.getfixturevalue("store")
    return lambda: PgRiskUnitOfWork(store, pool=pool)


class TestRiskEventLog(EventLogContract):
    """Risk's units of work keep the platform's EventLog contract, with risk's projections running."""

    @pytest.fixture(params=["memory", "postgres"])
    def backend(self, request: pytest.FixtureRequest) -> tuple[UnitOfWorkFactory, Versions]:
        if request.param == "memory":
            log = InMemoryEventLog("risk")

            async def fake_versions(aggregate_id: str) -> list[int]:
                return [e.aggregate_version for e in log.committed if e.aggregate_id == aggregate_id]

            return (lambda: InMemoryRiskUnitOfWork(log)), fake_versions
        pool: AsyncConnectionPool = request.getfixturevalue("pool")
        store = request.getfixturevalue("store")

        async def pg_versions(aggregate_id: str) -> list[int]:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq", (aggregate_id,)
                )
                found: list[Any] = await cur.fetchall()
                return [int(r["v"]) for r in found]

        return (lambda: PgRiskUnitOfWork(store, pool=pool)), pg_versions

    @pytest.fixture
    def uow_factory(self, backend: tuple[UnitOfWorkFactory, Versions]) -> UnitOfWorkFactory:
        return backend[0]

    @pytest.fixture
    def committed_versions(self, backend: tuple[UnitOfWorkFactory, Versions]) -> Versions:
        return backend[1]


def decided(order_id: str, buyer_id: str, seconds: float, decision: Decision = Decision.APPROVE) -> RiskDecided:
    reasons = ("velocity: 6 orders in 60s (limit 5)",) if decision is Decision.REVIEW else ()
    return RiskDecided(order_id, buyer_id, at(seconds), decision, reasons)


async def record(unit_of_work: UnitOfWorkFactory, *events: RiskDecided) -> None:
    async with unit_of_work() as uow:
        await uow.events.append([decided_new_event(e, e.order_id, "") for e in events])
        await uow.commit()


async def load(unit_of_work: UnitOfWorkFactory, *commands: AssessOrder) -> dict[str, BuyerVelocity]:
    async with unit_of_work() as uow:
        return await uow.velocity.load(commands, MINUTE)


async def test_buyers_never_seen_are_loaded_with_empty_windows(unit_of_work: UnitOfWorkFactory) -> None:
    assert await load(unit_of_work, AssessOrder("o1", "b1", at(0)), AssessOrder("o2", "b2", at(0))) == {
        "b1": BuyerVelocity("b1", {}),
        "b2": BuyerVelocity("b2", {}),
    }


async def test_a_load_holds_the_buyers_orders_within_a_window_of_the_span_of_its_commands(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await record(
        unit_of_work,
        decided("early", "b1", -61),
        decided("edge", "b1", -60),  # exactly one window before: not within it
        decided("near", "b1", -59.5),
        decided("between", "b1", 50),
        decided("late", "b1", 159),
        decided("far", "b1", 160),
        decided("other", "b2", 0),
    )
    states = await load(unit_of_work, AssessOrder("o1", "b1", at(0)), AssessOrder("o2", "b1", at(100)))
    assert states == {"b1": BuyerVelocity("b1", {"near": at(-59.5), "between": at(50), "late": at(159)})}


async def test_a_load_holds_the_commands_own_orders_already_decided_wherever_they_lie(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await record(unit_of_work, decided("o1", "b1", 0), decided("o9", "b1", 500))
    states = await load(unit_of_work, AssessOrder("o9", "b1", at(1000)))
    assert states == {"b1": BuyerVelocity("b1", {"o9": at(500)})}


async def test_a_decision_reads_back_as_recorded_and_an_unknown_order_has_none(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await record(unit_of_work, decided("o1", "b1", 0, Decision.REVIEW))
    async with unit_of_work() as uow:
        found = await uow.decisions.get("o1")
        missing = await uow.decisions.get("o2")
    assert missing is None
    assert found is not None
    assert (found.order_id, found.buyer_id, found.decision, found.reasons) == (
        "o1", "b1", Decision.REVIEW, ("velocity: 6 orders in 60s (limit 5)",),
    )
    assert found.decided_at.tzinfo is not None


async def test_what_a_unit_of_work_appends_it_reads_back_before_it_commits(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    async with unit_of_work() as uow:
        await uow.events.append([decided_new_event(decided("o1", "b1", 0), "o1", "")])
        assert (await uow.velocity.load([AssessOrder("o2", "b1", at(1))], MINUTE))["b1"].orders == {"o1": at(0)}
        assert await uow.decisions.get("o1") is not None


async def test_a_unit_of_work_left_without_commit_records_nothing(unit_of_work: UnitOfWorkFactory) -> None:
    async with unit_of_work() as uow:
        await uow.events.append([decided_new_event(decided("o1", "b1", 0), "o1", "")])
    assert await load(unit_of_work, AssessOrder("o2", "b1", at(1))) == {"b1": BuyerVelocity("b1", {})}
    async with unit_of_work() as uow:
        assert await uow.decisions.get("o1") is None


async def test_a_second_decision_for_an_order_conflicts_and_records_nothing(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    await record(unit_of_work, decided("o1", "b1", 0))
    with pytest.raises(ConcurrencyConflict):
        await record(unit_of_work, decided("o2", "b1", 1), decided("o1", "b1", 5, Decision.REVIEW))
    states = await load(unit_of_work, AssessOrder("o3", "b1", at(2)))
    assert states["b1"].orders == {"o1": at(0)}
    async with unit_of_work() as uow:
        found = await uow.decisions.get("o1")
    assert found is not None and found.decision is Decision.APPROVE
