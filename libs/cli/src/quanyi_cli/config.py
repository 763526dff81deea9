"""The CLI's settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

# `quanyi dev` writes where it started things, so that the other commands find them without flags.
DEV_ENV_FILE = ".data/quanyi.env"
# The repository this CLI was installed from (an editable install): libs/cli/src/quanyi_cli/config.py.
_REPOSITORY = Path(__file__).resolve().parents[4]


def dev_env_files(cwd: Path | None = None) -> tuple[Path, ...]:
    """Where a running `quanyi dev` may have written its env file, weakest first: the repository the CLI
    comes from, then the current directory and each of its parents, the nearest last (it wins)."""
    here = (cwd or Path.cwd()).resolve()
    nearest_first = [d / DEV_ENV_FILE for d in (here, *here.parents)]
    return (_REPOSITORY / DEV_ENV_FILE, *reversed(nearest_first))


class CliSettings(BaseSettings):
    """The environment wins; otherwise what the running `quanyi dev` wrote to .data/quanyi.env, found
    from any directory (see dev_env_files)."""

    model_config = SettingsConfigDict(env_prefix="QUANYI_", extra="ignore")

    database_url: str = ""
    kafka_bootstrap: str = ""
    gateway_url: str = ""
    dev_credential: str = ""
    # The ledger's gRPC address, for `quanyi ledger`, `quanyi report` and `quanyi audit`.
    ledger_grpc: str = "127.0.0.1:50054"

    def __init__(self, **values: Any) -> None:
        super().__init__(_env_file=dev_env_files(), **values)

    @property
    def database_url_or_none(self) -> str | None:
        return self.database_url or None
