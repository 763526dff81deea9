"""The CLI finds a running `quanyi dev` from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from quanyi_cli.config import CliSettings, dev_env_files


def test_the_nearest_env_file_wins_and_the_repository_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANYI_DATABASE_URL", raising=False)
    outer, inner = tmp_path / "a", tmp_path / "a" / "b" / "c"
    inner.mkdir(parents=True)
    (outer / ".data").mkdir()
    (outer / ".data" / "quanyi.env").write_text(
        "QUANYI_DATABASE_URL=postgresql://outer\nQUANYI_DEV_CREDENTIAL=from-outer\n"
    )
    monkeypatch.chdir(inner)
    settings = CliSettings()
    assert (settings.database_url, settings.dev_credential) == ("postgresql://outer", "from-outer")
    (inner / ".data").mkdir()
    (inner / ".data" / "quanyi.env").write_text("QUANYI_DATABASE_URL=postgresql://inner\n")
    assert CliSettings().database_url == "postgresql://inner"
    files = dev_env_files(inner)
    assert files[-1] == inner / ".data" / "quanyi.env"
    assert files[0] == Path(__file__).resolve().parents[3] / ".data" / "quanyi.env"


def test_the_environment_wins_over_the_env_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "quanyi.env").write_text("QUANYI_DATABASE_URL=postgresql://file\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QUANYI_DATABASE_URL", "postgresql://env")
    assert CliSettings().database_url == "postgresql://env"
