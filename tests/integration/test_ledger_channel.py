"""Issue 9: the channel of a sale comes from how the order arrived, never from the buyer's body. A buyer who
sends `channel` changes nothing in the ledger; the storefront's sale is booked on the storefront's revenue
account, per SKU, with its key cost, and the journal verifies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration import checks
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


async def test_a_buyer_who_sends_a_channel_changes_nothing_in_the_ledger(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(2), price_minor=700, cost_minor=300)
    buyer = await new_buyer(http)

    sneaky = await buyer.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}], "channel": "evil-market"},
        headers={"Idempotency-Key": "sneaky-channel"},
    )
    problem(sneaky, 422)

    r = await buyer.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}]},
        headers={"Idempotency-Key": "plain-order"},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert (await pay(http, order)).status_code == 200

    async def booked() -> list[dict[str, Any]] | None:
        entries = (await adm.get("/v1/admin/finance/entries", params={"order_id": order["order_id"]})).json()
        kinds = {e["kind"] for e in entries["entries"]}
        return entries["entries"] if {"payment", "sale", "key_cost"} <= kinds else None

    entries = await eventually(booked, timeout=60)
    accounts = {ln["account"] for e in entries for ln in e["lines"]}
    assert not any("evil" in a for a in accounts), accounts
    sale = next(e for e in entries if e["kind"] == "sale")
    assert {(ln["account"], ln["sku_id"]) for ln in sale["lines"] if int(ln["credit_minor"])} == {
        ("revenue:web", sku["sku_id"])
    }
    assert not await checks.scalar(
        url, "SELECT count(*) FROM ledger.journal_lines WHERE account LIKE %s", ("%evil%",)
    )
    verified = (await adm.get("/v1/admin/finance/verify")).json()
    assert verified["ok"], verified
