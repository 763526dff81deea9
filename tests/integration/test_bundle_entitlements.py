"""Bundles of keys, points and a membership end to end, with every service a process of its own: the
operator defines them through the admin API, a buyer buys and pays, and sees the key, the points balance and
the membership in the user centre (/v1/me); a second bundle's membership stacks on the first; the ledger
holds each points credit on the points liability; the operator's refunds of both orders take the points
back (balance 0) and the membership's days off its end, and the ledger reverses each credit (the points
liability nets to zero); replay equals live (I6)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack
from quanyi_platform.testing.replay import assert_replay_matches_live

from tests.integration import checks
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
    quiet,
)

pytestmark = pytest.mark.integration

CNY = "CNY"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def bundle(adm: Client, name: str, price: int, components: list[dict[str, Any]]) -> str:
    r = await adm.post("/v1/admin/products", json={"name": name, "kind": "bundle"})
    assert r.status_code == 201, r.text
    r = await adm.post(
        f"/v1/admin/products/{r.json()['product_id']}/skus",
        json={"name": name, "price": {"amount_minor": price, "currency": CNY}, "components": components},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["sku_id"])


async def bought(http: httpx.AsyncClient, buyer: Client, sku_id: str) -> str:
    r = await place_order(buyer, sku_id, 1)
    assert r.status_code == 201, r.text
    order = r.json()
    r = await pay(http, order)
    assert r.status_code == 200, r.text

    async def fulfilled() -> bool:
        return await order_status(buyer, order["order_id"]) == "FULFILLED"

    assert await eventually(fulfilled, timeout=30), await order_status(buyer, order["order_id"])
    return str(order["order_id"])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def test_a_bundle_of_a_key_points_and_a_membership_reaches_the_user_centre_and_the_ledger(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    keys = fresh_keys(2)
    game = await create_sku_with_keys(adm, keys, price_minor=1000, cost_minor=600, name="bundle game")
    box = await bundle(adm, "Game + 500 points + 30 days VIP", 3000, [
        {"sku_id": game["sku_id"], "quantity": 1},
        {"points": {"points": 500, "value": {"amount_minor": 250, "currency": CNY}}},
        {"membership": {"plan": "vip", "days": 30}},
    ])
    perks = await bundle(adm, "100 points + 7 days VIP", 500, [
        {"points": {"points": 100, "value": {"amount_minor": 50, "currency": CNY}}},
        {"membership": {"plan": "vip", "days": 7}},
    ])
    # Availability is the scarcest key component's; points and memberships are unlimited.
    assert (await http.get(f"/v1/skus/{box}")).json()["available"] == 2
    assert (await http.get(f"/v1/skus/{perks}")).json()["available"] >= 1_000_000

    name = f"perks-{uuid.uuid4().hex[:10]}"
    buyer = await new_buyer(http, name)
    started = datetime.now(UTC)
    first = await bought(http, buyer, box)
    r = await buyer.get("/v1/me/keys", params={"order_id": first})
    assert r.status_code == 200, r.text
    assert [(k["code"], k["password"]) for k in r.json()["items"]] == [
        k for k in keys if k[0] == r.json()["items"][0]["code"]
    ]
    points = (await buyer.get("/v1/me/points")).json()
    assert points["balance"] == 500 and [c["order_id"] for c in points["credits"]] == [first]
    [vip] = (await buyer.get("/v1/me/memberships")).json()
    assert vip["plan"] == "vip" and [g["order_id"] for g in vip["grants"]] == [first]
    first_end = when(vip["valid_until"])
    assert started + timedelta(days=30) <= first_end <= datetime.now(UTC) + timedelta(days=30)

    # A bundle of points and a membership only: delivered without a key; its 7 days start when the 30 end.
    second = await bought(http, buyer, perks)
    assert (await buyer.get("/v1/me/keys", params={"order_id": second})).json()["items"] == []
    assert (await buyer.get("/v1/me/points")).json()["balance"] == 600
    [vip] = (await buyer.get("/v1/me/memberships")).json()
    assert [g["order_id"] for g in vip["grants"]] == [first, second]
    assert when(vip["grants"][1]["valid_from"]) == first_end
    assert when(vip["valid_until"]) == first_end + timedelta(days=7)
    # The user centre's page shows the balance and the membership, linked to the orders.
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30) as web:
        token = _META.search((await web.get("/login")).text)
        assert token
        r = await web.post("/login", data={
            "email": f"{name}@buyer.test", "password": "buyer-password", "csrf_token": token.group(1)
        })
        assert r.status_code == 303, r.text
        page = (await web.get("/me")).text
        assert "data-points-balance>600</strong>" in page and 'data-membership="vip"' in page
        assert f'href="#order-{second}"' in page

    # The ledger: each points credit is one entry on the points liability; the chain verifies.
    async def credited() -> bool:
        n = await checks.scalar(
            url, "SELECT count(*) FROM ledger.journal_entries WHERE kind = 'points_credited'"
            " AND correlation_id = ANY(%s)", ([first, second],),
        )
        return bool(n == 2)

    assert await eventually(credited, timeout=30)
    lines = await checks.scalar(
        url, "SELECT coalesce(sum(l.credit_minor - l.debit_minor), 0) FROM ledger.journal_lines l"
        " JOIN ledger.journal_entries e ON e.seq = l.entry_seq"
        " WHERE l.account = 'liability:points' AND e.correlation_id = ANY(%s)", ([first, second],),
    )
    assert lines == 300
    r = await adm.get("/v1/admin/ledger/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text

    # The operator refunds the keyless bundle, then the other: each refund takes back its points and its
    # membership's days (off the end of the stacked plan), and the ledger reverses each credit.
    async def refunded(order_id: str) -> None:
        r = await adm.post(f"/v1/admin/orders/{order_id}/refunds", json={"reason": "buyer changed their mind"})
        assert r.status_code == 201, r.text

        async def done() -> bool:
            return await order_status(buyer, order_id) == "REFUNDED"

        assert await eventually(done, timeout=30), await order_status(buyer, order_id)

    async def balance_is(n: int) -> bool:
        return bool((await buyer.get("/v1/me/points")).json()["balance"] == n)

    await refunded(second)
    assert await eventually(lambda: balance_is(500), timeout=30)
    [vip] = (await buyer.get("/v1/me/memberships")).json()
    assert when(vip["valid_until"]) == first_end
    assert [(g["order_id"], g["shortened_at"] is not None) for g in vip["grants"]] == [
        (first, False), (second, True)
    ]
    await refunded(first)
    assert await eventually(lambda: balance_is(0), timeout=30)
    points = (await buyer.get("/v1/me/points")).json()
    assert all(c["debited_at"] for c in points["credits"]) and len(points["credits"]) == 2
    [vip] = (await buyer.get("/v1/me/memberships")).json()
    assert when(vip["valid_until"]) == first_end - timedelta(days=30)
    assert all(g["shortened_at"] for g in vip["grants"])

    async def reversed_() -> bool:
        n = await checks.scalar(
            url, "SELECT count(*) FROM ledger.journal_entries WHERE kind = 'points_debited'"
            " AND correlation_id = ANY(%s)", ([first, second],),
        )
        return bool(n == 2)

    assert await eventually(reversed_, timeout=30)
    net = await checks.scalar(
        url, "SELECT coalesce(sum(l.credit_minor - l.debit_minor), 0) FROM ledger.journal_lines l"
        " JOIN ledger.journal_entries e ON e.seq = l.entry_seq"
        " WHERE l.account = 'liability:points' AND e.correlation_id = ANY(%s)", ([first, second],),
    )
    assert net == 0
    r = await adm.get("/v1/admin/ledger/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text

    await eventually(lambda: quiet(url))
    for service in ("inventory", "fulfillment", "ledger"):
        await assert_replay_matches_live(url, service, stack.config.kafka_bootstrap)
