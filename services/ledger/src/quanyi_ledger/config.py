"""Ledger settings, from QUANYI_* environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Ledger's settings: the platform's plus the address its gRPC server binds."""

    ledger_grpc_listen: str = "127.0.0.1:50054"
    # Posting is batched: a batch is one transaction with ~10 statements, whatever its size, and its Python
    # work is prepared while the previous batch commits. 1,000 records (the platform's default is 200) is
    # what bench.ledger measures, ~0.1 s of posting at 10,000 entries/s; a quiet topic still hands over
    # whatever has arrived, so the latency of a lone event does not change.
    consumer_max_records: int = 1_000
    # The Ed25519 key that signs the chain head (PKCS#8 PEM); created there when absent. Empty: a key made
    # for this process only (the exported heads still carry its public key).
    ledger_signing_key_file: str = ""
    # How often the service signs the chain head by itself (nightly by default); 0 turns it off.
    ledger_sign_every_s: float = 86_400.0
    # The commission each sales channel's partner earns, in basis points of what the buyer paid, e.g.
    # {"tmall": 500} (JSON in QUANYI_LEDGER_COMMISSION_BPS); posted with each sale, given back with refunds.
    ledger_commission_bps: dict[str, Annotated[int, Field(ge=0, le=10_000)]] = Field(default_factory=dict)


def load() -> Settings:
    return Settings()
