"""`quanyi keys import` end to end: the CLI (a process) uploads a key file to the gateway, which imports it
as a job through inventory; the keys are then stock a buyer can see, and bad rows come back by line.
`quanyi keys rotate-master` reaches inventory the same way."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from quanyi_cli.stack import Stack

from tests.integration.harness import ADMIN_EMAIL, ADMIN_PASSWORD, admin, eventually, fresh_keys


@functools.cache
def _token(gateway_url: str) -> str:
    """One sign-in for all the commands (the gateway rate-limits sign-ins)."""
    r = httpx.post(f"{gateway_url}/v1/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _quanyi(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUANYI_GATEWAY_URL": stack.config.gateway_url,
           "QUANYI_ADMIN_TOKEN": _token(stack.config.gateway_url)}
    return subprocess.run(
        [sys.executable, "-c", "from quanyi_cli.main import app; app()", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


async def _recorded_job(stack: Stack, job_id: str) -> tuple[str, int] | None:
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(stack.config.database_url) as conn:
        cur = await conn.execute(
            "SELECT status, (result->>'imported')::int FROM inventory.key_file_imports WHERE job_id = %s",
            (job_id,),
        )
        row = await cur.fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


async def _sku_and_pool(http: httpx.AsyncClient) -> tuple[dict[str, Any], str]:
    adm = await admin(http)
    r = await adm.post("/v1/admin/products", json={"name": "Key files", "kind": "card_key"})
    product_id = r.json()["product_id"]
    r = await adm.post(
        f"/v1/admin/products/{product_id}/skus",
        json={"name": "Key files month", "price": {"amount_minor": 990, "currency": "CNY"}},
    )
    sku = r.json()
    r = await adm.post(f"/v1/admin/skus/{sku['sku_id']}/pools", json={"name": "files"})
    return sku, r.json()["pool_id"]


async def test_the_cli_imports_a_key_file_as_a_job_and_reports_bad_rows_by_line(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    sku, pool_id = await _sku_and_pool(http)
    keys = fresh_keys(3)
    lines = ["code,password,unit_cost,expires_at"]
    lines += [f"{c},{p},1.20,2099-01-01" for c, p in keys]
    lines += [f"{keys[0][0]},x,,", ",nocode,,", f"{fresh_keys(1)[0][0]},y,,yesterday"]
    file = tmp_path / "keys.csv"
    file.write_text("\n".join(lines) + "\n")

    refused = await asyncio.to_thread(_quanyi, stack, "keys", "import", str(file), "--pool", pool_id, "--json")
    assert refused.returncode == 1, refused.stderr
    assert refused.stdout, refused.stderr
    out = json.loads(refused.stdout)
    assert out["aborted"] and out["imported"] == 0
    assert [(b["line"], b["reason"]) for b in out["bad_rows"]] == [
        (5, "duplicate of line 2"), (6, "empty code"), (7, "expires_at is not an ISO 8601 date or time"),
    ]

    stored = await asyncio.to_thread(
        _quanyi, stack, "keys", "import", str(file), "--pool", pool_id, "--mode", "valid-rows", "--json"
    )
    assert stored.returncode == 0, stored.stderr
    out = json.loads(stored.stdout)
    assert (out["imported"], out["rows"], out["rejected"], out["duplicates_in_file"]) == (3, 6, 2, 1)
    for c, p in keys:
        assert c not in stored.stdout + stored.stderr and p not in stored.stdout + stored.stderr

    adm = await admin(http)
    jobs = (await adm.get("/v1/admin/key-files")).json()
    assert jobs[0]["job_id"] == out["job_id"] and jobs[0]["status"] == "done"
    assert jobs[0]["result"]["file_sha256"] == out["file_sha256"]
    # Inventory recorded the job under the gateway's id: a restarted gateway still answers it from there.
    assert await _recorded_job(stack, out["job_id"]) == ("done", 3)

    async def available() -> bool:
        r = await http.get(f"/v1/skus/{sku['sku_id']}")
        return r.status_code == 200 and r.json()["available"] == 3

    await eventually(available)


async def test_an_upload_to_an_unknown_pool_ends_as_a_failed_job(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    file = tmp_path / "keys.txt"
    file.write_text(f"{fresh_keys(1)[0][0]}\n")
    result = await asyncio.to_thread(_quanyi, stack, "keys", "import", str(file), "--pool", "no-such-pool")
    assert result.returncode == 1
    assert "no such pool" in result.stderr


async def test_rotate_master_reaches_inventory_through_the_gateway(stack: Stack) -> None:
    result = await asyncio.to_thread(_quanyi, stack, "keys", "rotate-master", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    # The stack runs on its one (active) master key: every data key is wrapped by it already.
    assert body == {"master_key_id": "dev-1", "rewrapped": 0}


async def test_the_cli_voids_restores_exports_and_logs_a_batch(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    sku, pool_id = await _sku_and_pool(http)
    keys = fresh_keys(2)
    file = tmp_path / "bin.csv"
    file.write_text("code,password\n" + "".join(f"{c},{p}\n" for c, p in keys))
    imported = await asyncio.to_thread(_quanyi, stack, "keys", "import", str(file), "--pool", pool_id, "--json")
    batch_id = json.loads(imported.stdout)["batch_id"]

    voided = await asyncio.to_thread(_quanyi, stack, "keys", "void", batch_id, "--reason", "leaked", "--json")
    assert json.loads(voided.stdout)["keys"] == 2, voided.stderr
    binned = await asyncio.to_thread(_quanyi, stack, "keys", "batches", "--pool", pool_id, "--bin", "--json")
    assert [b["batch_id"] for b in json.loads(binned.stdout)["batches"]] == [batch_id]

    plain, coded = tmp_path / "plain.csv", tmp_path / "coded.csv"
    done = await asyncio.to_thread(_quanyi, stack, "keys", "export", "--batch", batch_id, "--out", str(plain))
    assert done.returncode == 0, done.stderr
    text = plain.read_text()
    assert text.splitlines()[0].endswith("order_id") and text.count("\n") == 3 and ",void," in text
    assert all(c not in text and p not in text for c, p in keys)
    done = await asyncio.to_thread(
        _quanyi, stack, "keys", "export", "--batch", batch_id, "--with-codes", "--out", str(coded)
    )
    assert done.returncode == 0, done.stderr
    assert all(c in coded.read_text() and p in coded.read_text() for c, p in keys)
    assert oct(coded.stat().st_mode & 0o777) == "0o600"

    restored = await asyncio.to_thread(_quanyi, stack, "keys", "restore", batch_id, "--json")
    assert json.loads(restored.stdout)["keys"] == 2
    log = await asyncio.to_thread(_quanyi, stack, "keys", "log", "--pool", pool_id, "--json")
    actions = [o["action"] for o in json.loads(log.stdout)["operations"]]
    assert actions == ["batch_restored", "keys_exported", "batch_voided", "keys_imported", "pool_created"]

    adm = await admin(http)
    second = (await adm.post(f"/v1/admin/skus/{sku['sku_id']}/pools", json={"name": "second"})).json()
    moved = await asyncio.to_thread(
        _quanyi, stack, "keys", "move", batch_id, "--to-pool", second["pool_id"], "--json"
    )
    assert json.loads(moved.stdout)["keys"] == 2, moved.stderr
    log = await asyncio.to_thread(_quanyi, stack, "keys", "log", "--pool", pool_id, "--json")
    assert json.loads(log.stdout)["operations"][0]["action"] == "keys_moved"
