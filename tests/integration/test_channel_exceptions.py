"""A channel that gives up after the order was fulfilled, end to end with services as processes. A bundle
(two component SKUs' keys per unit) is bought and delivered to the user centre; the partner's top-up API
fails half-way through its keys (one component credited, the next refused by an outage): a partial
delivery. Fulfillment gives up (DeliveryFailed, final), and orders puts the fulfilled order in the exception
queue (source "channel"), where it stays open. A re-drive from the queue while the partner is still down fails
and leaves it open; after recovery the CLI's re-drive credits the remaining key, each key exactly once, and
resolves the entry. Another such order is refunded from the queue instead: its keys are voided, the refund
confirmed, and every paid order is still delivered, refunded or queued (I2). No account in tables or logs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from quanyi_cli.stack import Stack

from tests.integration import checks
from tests.integration.conftest import PARTNER_ACCOUNT, channel_simulators_url
from tests.integration.harness import (
    Client,
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    pay,
    place_order,
)
from tests.integration.test_payment_saga import paid_orders_accounted_for


async def _bundle(adm: Client, name: str) -> str:
    """A bundle SKU of two component SKUs, one key of each per unit (each component has one key)."""
    parts = [await create_sku_with_keys(adm, fresh_keys(1), name=f"{name} part {n}") for n in (1, 2)]
    r = await adm.post("/v1/admin/products", json={"name": name, "kind": "card_key"})
    assert r.status_code == 201, r.text
    r = await adm.post(f"/v1/admin/products/{r.json()['product_id']}/skus", json={
        "name": f"{name} bundle", "price": {"amount_minor": 2990, "currency": "CNY"},
        "components": [{"sku_id": p["sku_id"], "quantity": 1} for p in parts],
    })
    assert r.status_code == 201, r.text
    return str(r.json()["sku_id"])


async def _fulfilled_order(http: httpx.AsyncClient, adm: Client, name: str) -> tuple[Client, str]:
    sku_id = await _bundle(adm, name)
    buyer = await new_buyer(http)
    r = await place_order(buyer, sku_id)
    assert r.status_code == 201, r.text
    order = r.json()
    assert (await pay(http, order)).status_code == 200
    await eventually(lambda: _is(buyer, order["order_id"], "FULFILLED"), timeout=60)
    return buyer, str(order["order_id"])


async def _is(buyer: Client, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status


async def _entry(adm: Client, order_id: str) -> dict[str, Any] | None:
    r = await adm.get("/v1/admin/ops/queue", params={"include_resolved": True, "limit": 500})
    assert r.status_code == 200, r.text
    return next((e for e in r.json()["items"] if e["order_id"] == order_id), None)


async def _half_credited(adm: Client, sim: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    """The operator's activation: the first key is credited, then the partner goes down; the channel gives
    up and the order is queued. Returns the open entry."""
    await sim.post("/_sim/faults", json={"service": "partner", "mode": "down", "skip": 1})
    body = {"channel": "activation", "target": PARTNER_ACCOUNT}
    given_up = await adm.post(f"/v1/admin/orders/{order_id}/deliveries", json=body)
    assert given_up.status_code == 200, given_up.text
    assert given_up.json()["delivered"] is False

    async def queued() -> dict[str, Any] | None:
        entry = await _entry(adm, order_id)
        return entry if entry is not None and entry["status"] == "OPEN" else None

    entry: dict[str, Any] = await eventually(queued, timeout=60)
    return entry


async def test_a_channel_that_gives_up_after_fulfilment_is_queued_then_redriven_or_refunded(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    developer = {"X-Dev-Credential": stack.config.dev_credential}
    async with httpx.AsyncClient(base_url=channel_simulators_url(stack), timeout=10, headers=developer) as sim:
        credited_before = len((await sim.get("/_sim/state")).json()["topups"])
        buyer, order_id = await _fulfilled_order(http, adm, "Tencent Video")
        entry = await _half_credited(adm, sim, order_id)
        assert entry["source"] == "channel" and entry["reason"].startswith("activation delivery given up")
        assert await order_status(buyer, order_id) == "FULFILLED"  # the keys are in the user centre
        assert len((await sim.get("/_sim/state")).json()["topups"]) == credited_before + 1  # partial
        keys = (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]
        assert len({k["sku_id"] for k in keys}) == 2  # a key of each component, both in the user centre

        # Still down: the re-drive fails again, and the entry stays open.
        redrive = {"action": "redrive", "channel": "activation", "target": PARTNER_ACCOUNT}
        await sim.post("/_sim/faults", json={"service": "partner", "mode": "down"})
        failed = await adm.post(f"/v1/admin/ops/queue/{order_id}", json=redrive)
        assert failed.status_code == 409 and "failed again" in failed.json()["detail"], failed.text
        assert (await _entry(adm, order_id) or {}).get("status") == "OPEN"

        # Recovered: the CLI's re-drive (the account on standard input) credits the rest and resolves it.
        await sim.post("/_sim/faults", json={"service": "partner", "mode": "ok"})
        env = {**os.environ, "QUANYI_GATEWAY_URL": stack.config.gateway_url, "QUANYI_ADMIN_TOKEN": adm.token}
        done = await asyncio.to_thread(
            subprocess.run,
            [str(Path(sys.executable).parent / "quanyi"), "ops", "redrive", order_id, "--action", "redrive",
             "--channel", "activation", "--target", "-", "--note", "partner back", "--json"],
            input=PARTNER_ACCOUNT + "\n", env=env, capture_output=True, text=True, timeout=200,
        )
        assert done.returncode == 0, done.stderr
        resolved = json.loads(done.stdout)["entry"]
        assert (resolved["status"], resolved["resolution"]) == ("RESOLVED", "redrive")
        codes = [k["code"] for k in (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]]
        topups = (await sim.get("/_sim/state")).json()["topups"]
        mine = [t["code"] for t in topups if t["code"] in codes]
        assert sorted(mine) == sorted(codes)  # each component's key credited once, the first before the outage

        # Another order half-credited, refunded from the queue instead.
        other_buyer, other = await _fulfilled_order(http, adm, "Mango TV")
        await _half_credited(adm, sim, other)
        await sim.post("/_sim/faults", json={"service": "partner", "mode": "ok"})
        r = await adm.post(f"/v1/admin/ops/queue/{other}", json={"action": "refund", "note": "partner gave up"})
        assert r.status_code == 200, r.text
        assert r.json()["refund_id"] and r.json()["entry"]["resolution"] == "refund"
        await eventually(lambda: _is(other_buyer, other, "REFUNDED"), timeout=60)

    counts = await paid_orders_accounted_for(url)
    assert counts.get("FULFILLED", 0) >= 1 and counts.get("REFUNDED", 0) >= 1
    assert await checks.plaintext_in_tables(url, [PARTNER_ACCOUNT]) == []
    assert checks.plaintext_in_logs(stack.log_dir, [PARTNER_ACCOUNT]) == []
