import itertools
from datetime import UTC, datetime, timedelta

from quanyi_risk.domain.velocity import Assessment, Decision, VelocityRule

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_orders_up_to_the_limit_are_approved() -> None:
    assert VelocityRule(max_orders=5).assess(at(4), [at(0), at(1), at(2), at(3)]).decision is Decision.APPROVE


def test_one_order_over_the_limit_goes_to_review_with_a_reason() -> None:
    a = VelocityRule(max_orders=5).assess(at(5), [at(0), at(1), at(2), at(3), at(4)])
    assert a.decision is Decision.REVIEW
    assert "6 orders in 60s" in a.reasons[0]


def test_an_order_that_arrives_late_is_counted_with_the_orders_placed_after_it() -> None:
    # The first order of six arrives last: the window starting at it holds all six.
    assert VelocityRule(max_orders=5).assess(at(0), [at(1), at(2), at(3), at(4), at(5)]).decision is Decision.REVIEW


def test_orders_a_minute_apart_or_more_are_not_in_one_window() -> None:
    rule = VelocityRule(max_orders=2)
    assert rule.busiest_window(at(60), [at(0), at(120)]) == 1
    assert rule.busiest_window(at(59.9), [at(0), at(119.8)]) == 2
    # Six orders spread over 100 s: no minute holds more than three of them.
    spread = [at(s) for s in (0, 20, 40, 60, 80, 100)]
    assert max(VelocityRule(max_orders=5).busiest_window(t, [u for u in spread if u != t]) for t in spread) == 3


def test_whatever_the_arrival_order_no_minute_lets_more_than_the_limit_through() -> None:
    rule = VelocityRule(max_orders=3)
    placed = [at(s) for s in (0, 5, 10, 30, 55, 61, 62)]
    for arrival in itertools.permutations(range(len(placed)), len(placed)):
        known: list[datetime] = []
        passed: list[datetime] = []
        for i in arrival:
            if rule.assess(placed[i], known).decision is Decision.APPROVE:
                passed.append(placed[i])
            known.append(placed[i])
        for start in placed:
            assert sum(start <= t < start + rule.window for t in passed) <= rule.max_orders, (arrival, start)


def test_in_arrival_order_exactly_the_orders_over_the_limit_are_held() -> None:
    rule = VelocityRule(max_orders=5)
    placed = [at(s) for s in range(8)]
    held = [rule.assess(t, placed[:i]).decision is Decision.REVIEW for i, t in enumerate(placed)]
    assert held == [False] * 5 + [True] * 3


def test_an_order_above_the_hard_limit_is_rejected_and_between_the_limits_reviewed() -> None:
    rule = VelocityRule(max_orders=2, reject_above=3)
    assert rule.assess(at(2), [at(0), at(1)]).decision is Decision.REVIEW
    rejected = rule.assess(at(3), [at(0), at(1), at(2)])
    assert rejected.decision is Decision.REJECT
    assert rejected.reasons == ("velocity: 4 orders in 60s (hard limit 3)",)


def test_every_order_of_a_blocked_account_is_rejected() -> None:
    rule = VelocityRule(max_orders=5, blocked=frozenset({"b-bad"}))
    assert rule.assess(at(0), [], "b-bad") == Assessment(Decision.REJECT, ("blocked account",))
    assert rule.assess(at(0), [], "b-good").decision is Decision.APPROVE
