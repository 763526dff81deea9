from datetime import UTC, datetime, timedelta

import pytest
from quanyi_fulfillment.domain.retry import GiveUp, RetryAt, RetryPolicy

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_wait_doubles_after_each_failed_attempt() -> None:
    policy = RetryPolicy(max_attempts=6)
    assert [policy.backoff_s(n) for n in range(1, 6)] == [2, 4, 8, 16, 32]


def test_the_wait_is_capped() -> None:
    assert RetryPolicy(max_attempts=50, cap_s=60).backoff_s(20) == 60


def test_a_failed_attempt_before_the_last_is_retried_after_the_backoff() -> None:
    assert RetryPolicy(max_attempts=5).after_failure(2, NOW) == RetryAt(NOW + timedelta(seconds=4))


def test_the_last_attempt_failing_gives_up() -> None:
    policy = RetryPolicy(max_attempts=5)
    assert policy.after_failure(5, NOW) == GiveUp()
    assert policy.is_final(5) and not policy.is_final(4)


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
