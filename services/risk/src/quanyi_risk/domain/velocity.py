"""The velocity rule: too many orders by one account in a sliding minute means a person should look."""

from __future__ import annotations

from dataclasses import dataclass
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
    """Orders placed by one account within `window_s` seconds, the order being assessed included."""

    max_orders: int
    window_s: int = 60

    def assess(self, orders_in_window: int) -> Assessment:
        if orders_in_window > self.max_orders:
            return Assessment(
                Decision.REVIEW,
                (f"velocity: {orders_in_window} orders in {self.window_s}s (limit {self.max_orders})",),
            )
        return Assessment(Decision.APPROVE, ())
