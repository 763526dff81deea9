"""The CLI's settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

# `quanyi dev` writes where it started things, so that the other commands find them without flags.
DEV_ENV_FILE = ".data/quanyi.env"


class CliSettings(BaseSettings):
    """The environment wins; otherwise what the running `quanyi dev` wrote to .data/quanyi.env."""

    model_config = SettingsConfigDict(env_prefix="QUANYI_", extra="ignore", env_file=DEV_ENV_FILE)

    database_url: str = ""
    kafka_bootstrap: str = ""

    @property
    def database_url_or_none(self) -> str | None:
        return self.database_url or None
