"""Risk settings, from QUANYI_* environment variables."""

from __future__ import annotations

from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Risk's settings: the platform's plus its rules' thresholds."""

    risk_grpc_listen: str = "127.0.0.1:50055"
    # Velocity rule: more than this many orders by one account within one minute are sent to review.
    risk_max_orders_per_minute: int = 5


def load() -> Settings:
    return Settings()
