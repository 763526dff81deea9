"""`quanyi operators` against the running stack: the owner adds an operator (the password on standard
input), lists, changes the role and removes the account; the operator's role decides what they may do."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from quanyi_cli.stack import Stack

from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.harness import sign_in

QUANYI = str(Path(sys.executable).parent / "quanyi")


async def _quanyi(stack: Stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUANYI_GATEWAY_URL": stack.config.gateway_url,
        "QUANYI_ADMIN_EMAIL": ADMIN_EMAIL,
        "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    return await asyncio.to_thread(
        subprocess.run, [QUANYI, "operators", *args], input=stdin, env=env, capture_output=True, text=True,
        timeout=60,
    )


async def test_the_owner_adds_an_operator_changes_the_role_and_removes_them_with_the_cli(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    added = await _quanyi(stack, "add", email, "--role", "read-only", "--json", stdin="first-password-1\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "read-only"
    assert "first-password-1" not in added.stdout + added.stderr

    reader = await sign_in(http, email, "first-password-1")
    assert (await reader.get("/v1/admin/finance/trial-balance")).status_code == 200
    r = await reader.post("/v1/admin/products", json={"name": "x", "kind": "card_key"})
    assert r.status_code == 403

    listed = await _quanyi(stack, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"email": email, "role": "read-only"}.items() <= next(
        o for o in json.loads(listed.stdout) if o["email"] == email
    ).items()

    changed = await _quanyi(stack, "set-role", email, "--role", "operations")
    assert changed.returncode == 0, changed.stderr
    assert (await reader.get("/v1/admin/ops/queue")).status_code == 401  # the old token carried read-only
    operator = await sign_in(http, email, "first-password-1")
    r = await operator.post("/v1/admin/products", json={"name": "By operations", "kind": "card_key"})
    assert r.status_code == 201, r.text

    removed = await _quanyi(stack, "remove", email)
    assert removed.returncode == 0, removed.stderr
    assert (await operator.get("/v1/admin/ops/queue")).status_code == 401
    refused = await _quanyi(stack, "set-role", email, "--role", "finance")
    assert refused.returncode == 1 and "no operator" in refused.stderr
    bad = await _quanyi(stack, "add", "x@example.com", "--role", "admin", stdin="first-password-1\n")
    assert bad.returncode == 2
