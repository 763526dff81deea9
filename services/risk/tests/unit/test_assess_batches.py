"""Assessing batches of placed orders through the unit of work, on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from quanyi_platform.uow import InMemoryEventLog
from quanyi_risk.adapters.memory import InMemoryRiskUnitOfWork
from quanyi_risk.adapters.proto import RISK_DECIDED, decided_from_proto
from quanyi_risk.application.assess import PlacedOrder, assess_placed_orders
from quanyi_risk.application.queries import get_decision
from quanyi_risk.domain.assessment import (
    AssessOrder,
    BuyerVelocity,
    InvalidOrder,
    RiskDecided,
    decide,
    decide_all,
    fold,
)
from quanyi_risk.domain.velocity import Decision, VelocityRule

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RULE = VelocityRule(max_orders=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def recorded(log: InMemoryEventLog) -> list[RiskDecided]:
    return [decided_from_proto(e.payload, e.occurred_at) for e in log.committed if e.type == RISK_DECIDED]


@st.composite
def placements(draw: st.DrawFn) -> list[AssessOrder]:
    """Orders of a few buyers spread over several minutes (farther apart than one window), placed in any
    order, some more than once."""
    n = draw(st.integers(1, 25))
    orders = [
        AssessOrder(f"o{i}", draw(st.sampled_from(["b0", "b1", "b2"])), at(draw(st.integers(0, 400_000)) / 1000))
        for i in range(n)
    ]
    return draw(st.lists(st.sampled_from(orders), min_size=1, max_size=40))


async def assess(log: InMemoryEventLog, commands: list[AssessOrder]) -> list[RiskDecided]:
    return await assess_placed_orders(
        InMemoryRiskUnitOfWork(log), RULE, [PlacedOrder(c, c.order_id, f"cause-{c.order_id}") for c in commands]
    )


@given(placements(), st.lists(st.integers(1, 10), max_size=40))
async def test_batches_decide_as_one_order_at_a_time_and_the_record_folds_to_the_state(
    commands: list[AssessOrder], cuts: list[int]
) -> None:
    log = InMemoryEventLog()
    rest = commands
    for size in [*cuts, len(commands)]:
        batch, rest = rest[:size], rest[size:]
        await assess(log, batch)
    expected: list[RiskDecided] = []
    for c in commands:
        state = fold(expected).get(c.buyer_id) or BuyerVelocity(c.buyer_id)
        expected.extend(decide(state, c, RULE))
    assert recorded(log) == expected
    _, states = decide_all(RULE, {}, commands)
    assert fold(recorded(log)) == states


async def test_the_last_of_one_buyers_orders_in_a_batch_is_the_one_held() -> None:
    log = InMemoryEventLog()
    decided = await assess(log, [AssessOrder(f"o{i}", "b1", at(10 - i)) for i in range(4)])
    assert [e.decision for e in decided] == [Decision.APPROVE] * 3 + [Decision.REVIEW]
    assert decided[-1].order_id == "o3"


async def test_a_batch_placed_again_records_nothing_new() -> None:
    log = InMemoryEventLog()
    batch = [AssessOrder(f"o{i}", "b1", at(i)) for i in range(5)]
    await assess(log, batch)
    assert await assess(log, batch) == []
    assert len(log.committed) == 5


async def test_a_batch_with_an_order_that_cannot_be_assessed_records_nothing() -> None:
    log = InMemoryEventLog()
    with pytest.raises(InvalidOrder):
        await assess(log, [AssessOrder("o1", "b1", at(0)), AssessOrder("o2", "", at(1))])
    assert log.committed == [] and log.pending == []


async def test_the_decision_event_is_traced_to_the_order_and_the_event_that_placed_it() -> None:
    log = InMemoryEventLog()
    await assess(log, [AssessOrder("o1", "b1", at(0))])
    [stored] = log.committed
    assert (stored.envelope.aggregate_type, stored.aggregate_id, stored.aggregate_version) == (
        "RiskAssessment", "o1", 1,
    )
    assert (stored.correlation_id, stored.causation_id) == ("o1", "cause-o1")


async def test_a_decision_can_be_asked_for_once_recorded() -> None:
    log = InMemoryEventLog()
    assert await get_decision(InMemoryRiskUnitOfWork(log), "o1") is None
    await assess(log, [AssessOrder("o1", "b1", at(0))])
    found = await get_decision(InMemoryRiskUnitOfWork(log), "o1")
    assert found is not None and (found.buyer_id, found.decision, found.reasons) == ("b1", Decision.APPROVE, ())
