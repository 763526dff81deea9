"""The velocity rule: too many orders by one account in a sliding minute means a person should look,
and far too many (above `reject_above`) are rejected outright; so is every order of a blocked account.

Orders reach risk in no fixed order: they are keyed by order id, so one account's orders spread over
partitions and one that was placed earlier can arrive later. The rule therefore does not count only the
orders placed before this one. It asks whether any window of `window_s` seconds that holds this order
also holds more than `max_orders` of the account's orders known so far, this one included.

What that guarantees, whatever the arrival order: in any window, at most `max_orders` orders of one
account go through without review. Of the orders in a window holding k > max_orders, the last one to
arrive saw all k and was held, the one before it saw at least k - 1, and so on: the last k - max_orders
arrivals are all held.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class Decision(Enum):
    APPROVE = "APPROVE"
    REVIEW = "REVIEW"
    REJECT = "REJECT"


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class VelocityRule:
    """At most `max_orders` orders by one account in any `window_s` seconds go through unreviewed; with
    `reject_above`, an order in a window holding more than that many is rejected (the hard limit); an
    order of an account in `blocked` is rejected whatever its velocity."""

    max_orders: int
    window_s: int = 60
    reject_above: int | None = None
    blocked: frozenset[str] = frozenset()

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    def busiest_window(self, placed_at: datetime, others: Iterable[datetime]) -> int:
        """How many orders the busiest window holding `placed_at` holds: this order and `others`.

        A window is half-open, [start, start + window_s). The busiest one can be taken to start at an
        order's time, so only those starts are tried.
        """
        times = sorted([placed_at, *(t for t in others if abs(t - placed_at) < self.window)])
        best = 0
        for i, start in enumerate(times):
            if start > placed_at:
                break
            if placed_at - start >= self.window:
                continue
            end = bisect.bisect_left(times, start + self.window, lo=i)
            best = max(best, end - i)
        return best

    def assess(self, placed_at: datetime, others: Iterable[datetime], buyer_id: str = "") -> Assessment:
        """Decide an order placed at `placed_at` by `buyer_id`, given the account's other known orders near
        it."""
        if buyer_id and buyer_id in self.blocked:
            return Assessment(Decision.REJECT, ("blocked account",))
        n = self.busiest_window(placed_at, others)
        if self.reject_above is not None and n > self.reject_above:
            return Assessment(
                Decision.REJECT,
                (f"velocity: {n} orders in {self.window_s}s (hard limit {self.reject_above})",),
            )
        if n > self.max_orders:
            return Assessment(
                Decision.REVIEW,
                (f"velocity: {n} orders in {self.window_s}s (limit {self.max_orders})",),
            )
        return Assessment(Decision.APPROVE, ())
