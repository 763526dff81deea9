"""Risk settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pydantic import model_validator
from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Risk's settings: the platform's plus its rules' thresholds."""

    risk_grpc_listen: str = "127.0.0.1:50055"
    # Velocity rule: more than this many orders by one account within one minute are sent to review.
    risk_max_orders_per_minute: int = 5
    # The hard limit: an order in a minute holding more than this many of its account's orders is rejected
    # (the order is cancelled, or refunded if it was paid). None: no hard limit.
    risk_reject_orders_per_minute: int | None = None
    # Accounts (buyer ids) whose orders are rejected.
    risk_blocked_buyers: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _hard_limit_above_review(self) -> Settings:
        limit = self.risk_reject_orders_per_minute
        if limit is not None and limit < self.risk_max_orders_per_minute:
            raise ValueError("QUANYI_RISK_REJECT_ORDERS_PER_MINUTE must not be below the review limit")
        return self


def load() -> Settings:
    return Settings()
