"""Ledger settings, from QUANYI_* environment variables."""

from __future__ import annotations

from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Ledger's settings: the platform's plus the address its gRPC server binds."""

    ledger_grpc_listen: str = "127.0.0.1:50054"


def load() -> Settings:
    return Settings()
