"""When to try a failed delivery e-mail again, and when to give up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryAt:
    at: datetime


@dataclass(frozen=True)
class GiveUp:
    """No more attempts: the e-mail goes to the exception queue."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: after failed attempt n, wait min(base_s * 2**n, cap_s) seconds.

    With the defaults (base 1 s) the waits are 2, 4, 8, 16 s ...; attempt `max_attempts` is the last.
    """

    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s <= 0 or self.cap_s <= 0:
            raise ValueError("base_s and cap_s must be positive")

    def backoff_s(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (from 1)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        # Cap the exponent too, so a huge attempt number cannot overflow a float.
        return min(self.base_s * 2.0 ** min(attempt, 64), self.cap_s)

    def is_final(self, attempt: int) -> bool:
        return attempt >= self.max_attempts

    def after_failure(self, attempt: int, now: datetime) -> RetryAt | GiveUp:
        if self.is_final(attempt):
            return GiveUp()
        return RetryAt(now + timedelta(seconds=self.backoff_s(attempt)))
