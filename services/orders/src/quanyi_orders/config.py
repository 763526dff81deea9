"""Orders settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pydantic import model_validator
from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Orders' settings: the platform's plus where it listens and how payment notices are verified."""

    orders_grpc_listen: str = "127.0.0.1:50051"
    # The payment provider's RSA public key (or certificate), as PEM text or a PEM file. Without one,
    # every payment notice is refused.
    psp_public_key_pem: str = ""
    psp_public_key_path: str = ""
    psp_provider_name: str = "psp-sim"
    # A notice whose timestamp is further than this from now is refused, so old captures cannot replay.
    psp_max_skew_s: int = 300
    # Group commit of PlaceOrder and payment notices (application.entry): at most this many calls of one
    # kind share a unit of work, and at most this many such groups (of each kind) run at once. A call
    # that finds a group free starts at once; the rest join the next group while those commit.
    group_commit_max_calls: int = 64
    group_commit_in_flight: int = 2

    @model_validator(mode="after")
    def _production_needs_a_psp_key(self) -> Settings:
        if self.is_production and not (self.psp_public_key_pem or self.psp_public_key_path):
            raise ValueError(
                "QUANYI_PSP_PUBLIC_KEY_PEM or QUANYI_PSP_PUBLIC_KEY_PATH must be set in production"
            )
        return self


def load() -> Settings:
    return Settings()
