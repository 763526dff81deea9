"""What an attacker tried over the public API (issue 10), each case answered with the right status and
proven to change nothing: every table's row count, event stores included, is the same after it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    fresh_keys,
    new_buyer,
    place_order,
    problem,
    sign_in,
)
from tests.security.conftest import changed, settled_counts

pytestmark = pytest.mark.integration


async def test_nul_bytes_and_overflowing_numbers_are_4xx_problems_and_change_nothing(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    buyer = await new_buyer(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1))
    url = stack.config.database_url
    before = await settled_counts(url)
    attempts: list[tuple[str, Any]] = [
        ("GET /v1/orders/%00", buyer.get("/v1/orders/%00")),
        ("GET /v1/skus/%00", http.get("/v1/skus/%00")),
        ("GET /v1/me/keys?order_id=%00", buyer.get("/v1/me/keys?order_id=%00")),
        ("register NUL e-mail", http.post("/v1/auth/register", json={"email": "a\x00@x.test", "password": "p" * 10})),
        ("sign in NUL e-mail", http.post("/v1/auth/token", json={"email": "a\x00@x.test", "password": "x"})),
        ("product name NUL", adm.post("/v1/admin/products", json={"name": "VIP\x00", "kind": "card_key"})),
        (
            "product id NUL",
            adm.post(
                "/v1/admin/products/%00/skus",
                json={"name": "m", "price": {"amount_minor": 1, "currency": "CNY"}},
            ),
        ),
        (
            "price 10^20",
            adm.post(
                f"/v1/admin/products/{sku['product_id']}/skus",
                json={"name": "m", "price": {"amount_minor": 10**20, "currency": "CNY"}},
            ),
        ),
        (
            "quantity 10^20",
            buyer.post(
                "/v1/orders",
                json={"items": [{"sku_id": sku["sku_id"], "quantity": 10**20}]},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
        ),
        (
            "order sku NUL",
            buyer.post(
                "/v1/orders",
                json={"items": [{"sku_id": "a\x00", "quantity": 1}]},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
        ),
    ]
    for name, call in attempts:
        r = await call
        body = problem(r, 422)
        assert body["errors"] and all(e["loc"] and e["msg"] for e in body["errors"]), (name, body)
    assert changed(before, await settled_counts(url)) == {}


async def test_an_idempotency_key_reused_with_another_body_is_422_and_places_nothing(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    a = await create_sku_with_keys(adm, fresh_keys(2))
    b = await create_sku_with_keys(adm, fresh_keys(1))
    buyer = await new_buyer(http)
    key = uuid.uuid4().hex
    first = await place_order(buyer, a["sku_id"], 1, key=key)
    assert first.status_code == 201, first.text
    url = stack.config.database_url
    before = await settled_counts(url)
    again = await place_order(buyer, a["sku_id"], 1, key=key)
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    for other in ((a["sku_id"], 2), (b["sku_id"], 1)):
        r = await place_order(buyer, other[0], other[1], key=key)
        assert problem(r, 422)["type"] == "urn:quanyi:problem:idempotency-key-reused"
    assert changed(before, await settled_counts(url)) == {}


@pytest.mark.parametrize(
    "extra",
    [
        {"channel": "tmall"},
        {"buyer_id": str(uuid.uuid4())},
        {"status": "PAID"},
        {"total": {"amount_minor": 1, "currency": "CNY"}},
    ],
    ids=["channel", "buyer", "status", "price"],
)
async def test_an_order_body_cannot_set_channel_buyer_status_or_price(
    http: httpx.AsyncClient, stack: Stack, extra: dict[str, Any]
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=1990)
    buyer = await new_buyer(http)
    url = stack.config.database_url
    before = await settled_counts(url)
    r = await buyer.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku["sku_id"], "quantity": 1, **({"unit_price": 1} if "total" in extra else {})}],
              **extra},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert problem(r, 422)["errors"]
    assert changed(before, await settled_counts(url)) == {}
    # The storefront's own order is on the storefront channel, at the catalogue's price.
    r = await place_order(buyer, sku["sku_id"], 1)
    assert r.status_code == 201, r.text
    assert (r.json()["channel"], r.json()["total"]["amount_minor"]) == ("web", 1990)


async def test_failed_sign_ins_lock_the_account_until_an_operator_unlocks_it(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@victim.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "the-right-password"})
    assert r.status_code == 201, r.text
    url = stack.config.database_url
    before = await settled_counts(url)
    statuses = []
    for _ in range(200):
        r = await http.post("/v1/auth/token", json={"email": email, "password": "a-wrong-password"})
        statuses.append(r.status_code)
    assert set(statuses) == {401, 429} and statuses[:5] == [401] * 5
    r = await http.post("/v1/auth/token", json={"email": email, "password": "the-right-password"})
    problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1
    assert changed(before, await settled_counts(url)) == {}
    adm = await admin(http)
    r = await adm.post("/v1/admin/accounts/unlock", json={"email": email})
    assert r.status_code == 200 and r.json()["unlocked"] is True
    assert (await sign_in(http, email, "the-right-password")).token


async def test_the_payment_simulator_signs_nothing_without_the_development_credential(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30) as anonymous:
        buyer = await new_buyer(anonymous)
        adm = await admin(anonymous)
        sku = await create_sku_with_keys(adm, fresh_keys(1))
        order = (await place_order(buyer, sku["sku_id"])).json()
        url = stack.config.database_url
        before = await settled_counts(url)
        pay = {"order_id": order["order_id"], "amount": order["total"]}
        for path in ("/psp-sim/v1/pay", "/psp-sim/v1/notices"):
            for headers in ({}, {"X-Dev-Credential": "a-guess-at-the-credential"}):
                r = await anonymous.post(path, json=pay, headers=headers)
                assert problem(r, 401)["type"] == "urn:quanyi:problem:dev-credential-required"
        assert changed(before, await settled_counts(url)) == {}
        r = await buyer.get(f"/v1/orders/{order['order_id']}")
        assert r.json()["status"] == "PENDING_PAYMENT"
