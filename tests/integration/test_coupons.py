"""Coupons end to end, services as processes: an operator creates a coupon through the admin API, a buyer
orders with it (the discounted total is what is asked and paid), the key is delivered, and the ledger's sale
books gross revenue with the discount as the channel's coupon expense; the used-up code is a 409 problem
with the reason for the next buyer, and the journal verifies."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    pay,
    problem,
)

pytestmark = pytest.mark.integration

QUANYI = str(Path(sys.executable).parent / "quanyi")


async def test_a_coupon_created_by_an_operator_discounts_an_order_paid_delivered_and_booked(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    keys = fresh_keys(2)
    sku = await create_sku_with_keys(adm, keys, price_minor=1999, cost_minor=500)
    code = f"E2E{uuid.uuid4().hex[:8]}"
    r = await adm.post("/v1/admin/coupons", json={
        "code": code, "kind": "percent", "percent_off_bps": 1500, "total_cap": 1, "per_buyer_cap": 1,
        "sku_ids": [sku["sku_id"]],
    })
    assert r.status_code == 201, r.text
    listed = (await adm.get("/v1/admin/coupons")).json()["coupons"]
    assert any(c["code"] == code and c["uses"] == 0 for c in listed)

    buyer = await new_buyer(http)
    r = await buyer.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}], "coupon_code": code.lower()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    # 15% of 19.99 is 2.9985: rounded down to 2.99 off, 17.00 to pay.
    assert order["discount"] == {"amount_minor": 299, "currency": "CNY"}
    assert order["total"] == {"amount_minor": 1700, "currency": "CNY"}
    assert order["payment"]["amount"] == order["total"]

    # The last use is taken: another buyer's order with the code is refused, with why.
    other = await new_buyer(http)
    refused = await other.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}], "coupon_code": code},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert "used up" in problem(refused, 409)["detail"]

    assert (await pay(http, order)).status_code == 200

    async def delivered() -> list[dict[str, Any]] | None:
        r = await buyer.get("/v1/me/keys", params={"order_id": order["order_id"]})
        return r.json()["items"] if r.status_code == 200 and r.json()["items"] else None

    got = await eventually(delivered, timeout=60)
    assert len(got) == 1 and (got[0]["code"], got[0]["password"]) in keys

    async def booked() -> list[dict[str, Any]] | None:
        entries = (await adm.get("/v1/admin/finance/entries", params={"order_id": order["order_id"]})).json()
        kinds = {e["kind"] for e in entries["entries"]}
        return entries["entries"] if {"payment", "sale", "key_cost"} <= kinds else None

    entries = await eventually(booked, timeout=60)
    sale = next(e for e in entries if e["kind"] == "sale")
    lines = {(ln["account"], int(ln["debit_minor"]), int(ln["credit_minor"])) for ln in sale["lines"]}
    assert lines == {
        ("deposits:buyers", 1700, 0), ("expense:coupons:web", 299, 0), ("revenue:web", 0, 1999),
    }, sale
    payment = next(e for e in entries if e["kind"] == "payment")
    assert {int(ln["debit_minor"]) for ln in payment["lines"] if ln["account"].startswith("clearing:")} == {1700}
    listed = (await adm.get("/v1/admin/coupons")).json()["coupons"]
    assert any(c["code"] == code and c["uses"] == 1 for c in listed)
    verified = (await adm.get("/v1/admin/finance/verify")).json()
    assert verified["ok"], verified


async def _coupons(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ, "QUANYI_GATEWAY_URL": stack.config.gateway_url, "QUANYI_ADMIN_EMAIL": ADMIN_EMAIL,
        "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    return await asyncio.to_thread(
        subprocess.run, [QUANYI, "coupons", *args], env=env, capture_output=True, text=True, timeout=60,
    )


async def test_an_operator_creates_lists_and_disables_a_coupon_with_the_cli(stack: Stack) -> None:
    code = f"Cli{uuid.uuid4().hex[:8]}"
    made = await _coupons(stack, "create", code, "--fixed", "500", "--min-order", "1000", "--per-buyer-cap", "1",
                          "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["amount_off"] == {"amount_minor": 500, "currency": "CNY"}
    again = await _coupons(stack, "create", code.upper(), "--percent", "1000")
    assert again.returncode == 1 and "exists" in again.stderr
    listed = await _coupons(stack, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (mine,) = [c for c in json.loads(listed.stdout) if c["code"] == code]
    assert (mine["kind"], mine["per_buyer_cap"], mine["disabled"]) == ("fixed", 1, False)
    off = await _coupons(stack, "disable", code.lower())
    assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
    listed = await _coupons(stack, "list", "--json")
    assert [c["disabled"] for c in json.loads(listed.stdout) if c["code"] == code] == [True]
