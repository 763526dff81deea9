"""`quanyi migrate` gives every service its own Postgres role and schema (quanyi_platform.roles)."""

from __future__ import annotations

import json

import psycopg
import pytest
from quanyi_cli.main import app
from quanyi_platform.roles import SERVICES, role_url
from typer.testing import CliRunner


def test_migrate_sets_up_a_role_per_service_and_says_what_it_applied(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANYI_DATABASE_URL", database_url)
    first = CliRunner().invoke(app, ["migrate", "--json"])
    again = CliRunner().invoke(app, ["migrate", "--json"])

    assert first.exit_code == 0, first.output
    body = json.loads(first.output)
    assert body["roles"] == {s: f"quanyi_{s}" for s in SERVICES}
    assert all(body["applied"][s] for s in SERVICES)
    assert json.loads(again.output)["applied"] == {s: [] for s in SERVICES}
    with psycopg.connect(role_url(database_url, "risk"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM risk.events").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM orders.events")


def test_migrate_with_a_role_that_may_not_create_roles_says_so_and_fails(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANYI_DATABASE_URL", database_url)
    assert CliRunner().invoke(app, ["migrate"]).exit_code == 0
    monkeypatch.setenv("QUANYI_DATABASE_URL", role_url(database_url, "orders"))
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "superuser" in result.output
