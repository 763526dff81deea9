"""The buyer's velocity window as an aggregate: decide and evolve, and folding the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from quanyi_risk.domain.assessment import (
    AssessOrder,
    BuyerVelocity,
    InvalidOrder,
    RiskDecided,
    decide,
    decide_all,
    evolve,
    fold,
)
from quanyi_risk.domain.velocity import Decision, VelocityRule

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RULE = VelocityRule(max_orders=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@st.composite
def placements(draw: st.DrawFn) -> list[AssessOrder]:
    """Orders of a few buyers over a few minutes, placed in any order, some of them more than once."""
    n = draw(st.integers(1, 25))
    orders = [
        AssessOrder(f"o{i}", draw(st.sampled_from(["b0", "b1", "b2"])), at(draw(st.integers(0, 240_000)) / 1000))
        for i in range(n)
    ]
    return draw(st.lists(st.sampled_from(orders), min_size=1, max_size=40))


def one_by_one(commands: list[AssessOrder]) -> list[RiskDecided]:
    """Each order decided alone, against everything decided before it."""
    events: list[RiskDecided] = []
    for c in commands:
        state = fold(events).get(c.buyer_id) or BuyerVelocity(c.buyer_id)
        events.extend(decide(state, c, RULE))
    return events


def test_an_order_within_the_limit_is_approved_and_joins_its_buyers_window() -> None:
    state = BuyerVelocity("b1", {"o1": at(0)})
    [event] = decide(state, AssessOrder("o2", "b1", at(10)), RULE)
    assert event == RiskDecided("o2", "b1", at(10), Decision.APPROVE, ())
    assert evolve(state, event) == BuyerVelocity("b1", {"o1": at(0), "o2": at(10)})


def test_an_order_over_the_limit_is_held_with_the_reason() -> None:
    state = BuyerVelocity("b1", {"o1": at(0), "o2": at(1), "o3": at(2)})
    [event] = decide(state, AssessOrder("o4", "b1", at(3)), RULE)
    assert event.decision is Decision.REVIEW
    assert event.reasons == ("velocity: 4 orders in 60s (limit 3)",)


def test_an_order_decided_before_is_not_decided_again() -> None:
    state = BuyerVelocity("b1", {"o1": at(0)})
    assert decide(state, AssessOrder("o1", "b1", at(0)), RULE) == []


@pytest.mark.parametrize(
    "command",
    [AssessOrder("", "b1", at(0)), AssessOrder("o1", "", at(0)), AssessOrder("o1", "b1", datetime(2026, 1, 1))],
)
def test_an_order_without_id_buyer_or_time_zone_cannot_be_assessed(command: AssessOrder) -> None:
    with pytest.raises(InvalidOrder):
        decide(BuyerVelocity(command.buyer_id), command, RULE)


def test_orders_of_one_buyer_in_one_batch_count_against_each_other() -> None:
    commands = [AssessOrder(f"o{i}", "b1", at(i)) for i in range(5)]
    decided, _ = decide_all(RULE, {}, commands)
    assert [e.decision for [e] in decided] == [Decision.APPROVE] * 3 + [Decision.REVIEW] * 2


@given(placements())
def test_folding_the_recorded_events_gives_exactly_the_state_the_decisions_left(
    commands: list[AssessOrder],
) -> None:
    decided, states = decide_all(RULE, {}, commands)
    assert fold(e for events in decided for e in events) == states


@given(placements(), st.lists(st.integers(1, 10), min_size=1, max_size=40))
def test_deciding_in_batches_gives_the_decisions_of_one_order_at_a_time(
    commands: list[AssessOrder], cuts: list[int]
) -> None:
    batched: list[RiskDecided] = []
    states: dict[str, BuyerVelocity] = {}
    rest = commands
    for size in cuts:
        batch, rest = rest[:size], rest[size:]
        decided, states = decide_all(RULE, states, batch)
        batched.extend(e for events in decided for e in events)
    decided, states = decide_all(RULE, states, rest)
    batched.extend(e for events in decided for e in events)
    assert batched == one_by_one(commands)


@given(placements())
def test_every_order_is_decided_once_however_often_it_is_placed(commands: list[AssessOrder]) -> None:
    decided, _ = decide_all(RULE, {}, commands)
    ids = [e.order_id for events in decided for e in events]
    assert sorted(ids) == sorted({c.order_id for c in commands})
