"""The input-validation layer: control characters, bounds and id formats are refused with a field-level
422 problem before any peer is asked or any row is written."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.tests.integration.conftest import FakePeers

PROBLEM = "application/problem+json"


def field_problem(r: Any, loc: list[str | int]) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert [e["loc"] for e in body["errors"]] == [loc], body
    assert "\x00" not in r.text and "\\u0000" not in r.text
    return body


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/v1/orders/%00", ["path"]),
        ("/v1/skus/%00", ["path"]),
        ("/v1/skus/a%01b", ["path"]),
        ("/v1/me/keys?order_id=%00", ["query", "order_id"]),
        ("/v1/skus?cursor=x%00", ["query", "cursor"]),
        ("/v1/admin/ledger/balances?account_prefix=%7F", ["query", "account_prefix"]),
    ],
)
async def test_a_control_character_in_a_path_or_query_is_a_field_level_422(
    gw: Any, fake: FakePeers, path: str, loc: list[str]
) -> None:
    _, headers = await gw.buyer("nul@example.com")
    calls = len(fake.calls)
    r = await gw.client.get(path, headers=headers)
    body = field_problem(r, loc)
    assert body["errors"][0]["type"] == "control_character"
    assert len(fake.calls) == calls


async def test_nul_at_registration_and_sign_in_is_a_422_and_creates_no_account(gw: Any) -> None:
    r = await gw.client.post(
        "/v1/auth/register", json={"email": "a\x00@example.com", "password": "long-enough"}
    )
    field_problem(r, ["body", "email"])
    r = await gw.client.post("/v1/auth/token", json={"email": "a\x00@example.com", "password": "x"})
    field_problem(r, ["body", "email"])
    r = await gw.client.post("/v1/auth/token", json={"email": "admin@example.com", "password": "\x00"})
    field_problem(r, ["body", "password"])
    async with gw.app.state.resources.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM users WHERE role = 'buyer'")
        assert (await cur.fetchone())["n"] == 0


async def test_an_admin_name_or_id_with_nul_is_a_422_and_reaches_no_peer(gw: Any, fake: FakePeers) -> None:
    headers = await gw.admin()
    r = await gw.client.post(
        "/v1/admin/products", json={"name": "VIP\x00", "kind": "card_key"}, headers=headers
    )
    field_problem(r, ["body", "name"])
    r = await gw.client.post(
        "/v1/admin/products/p%001/skus",
        json={"name": "month", "price": {"amount_minor": 1, "currency": "CNY"}},
        headers=headers,
    )
    field_problem(r, ["path"])
    r = await gw.client.post("/v1/admin/skus/s 1/pools", json={"name": "main"}, headers=headers)
    field_problem(r, ["path", "sku_id"])
    assert not {"CreateProduct", "CreateSku", "CreatePool"} & set(fake.calls)


@pytest.mark.parametrize("amount", [10**20, 10**12 + 1, -1])
async def test_a_price_out_of_bounds_is_a_422(gw: Any, fake: FakePeers, amount: int) -> None:
    r = await gw.client.post(
        "/v1/admin/products/p-1/skus",
        json={"name": "month", "price": {"amount_minor": amount, "currency": "CNY"}},
        headers=await gw.admin(),
    )
    field_problem(r, ["body", "price", "amount_minor"])
    assert "CreateSku" not in fake.calls


async def test_a_quantity_out_of_bounds_is_a_422(gw: Any, fake: FakePeers) -> None:
    fake.add_sku("sku-1")
    _, headers = await gw.buyer("qty@example.com")
    for quantity in (0, 101, 10**20):
        r = await gw.client.post(
            "/v1/orders",
            json={"items": [{"sku_id": "sku-1", "quantity": quantity}]},
            headers={**headers, "Idempotency-Key": f"q-{quantity}"},
        )
        field_problem(r, ["body", "items", 0, "quantity"])
    assert "PlaceOrder" not in fake.calls


@pytest.mark.parametrize(
    "extra",
    [
        {"channel": "tmall"},
        {"buyer_id": "00000000-0000-0000-0000-000000000000"},
        {"status": "PAID"},
        {"total": {"amount_minor": 1, "currency": "CNY"}},
    ],
)
async def test_an_order_body_naming_channel_buyer_status_or_price_is_refused(
    gw: Any, fake: FakePeers, extra: dict[str, Any]
) -> None:
    fake.add_sku("sku-1")
    _, headers = await gw.buyer("mass@example.com")
    r = await gw.client.post(
        "/v1/orders",
        json={"items": [{"sku_id": "sku-1", "quantity": 1}], **extra},
        headers={**headers, "Idempotency-Key": "mass-1"},
    )
    field_problem(r, ["body", next(iter(extra))])
    r = await gw.client.post(
        "/v1/orders",
        json={"items": [{"sku_id": "sku-1", "quantity": 1, "unit_price": {"amount_minor": 1}}]},
        headers={**headers, "Idempotency-Key": "mass-2"},
    )
    field_problem(r, ["body", "items", 0, "unit_price"])
    assert "PlaceOrder" not in fake.calls


async def test_a_storefront_order_is_placed_on_the_storefront_channel(gw: Any, fake: FakePeers) -> None:
    fake.add_sku("sku-1")
    _, headers = await gw.buyer("web@example.com")
    r = await gw.client.post(
        "/v1/orders",
        json={"items": [{"sku_id": "sku-1", "quantity": 1}]},
        headers={**headers, "Idempotency-Key": "web-1"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "web"
    assert [o.channel for o in fake.orders.values()] == ["web"]


async def test_a_channel_integration_orders_on_the_channel_it_signed_in_as(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(channel_accounts={"tmall": "Tmall@Channels.example.com"}))
    fake.add_sku("sku-1")
    _, tmall = await gw.buyer("tmall@channels.example.com")
    _, buyer = await gw.buyer("someone@example.com")
    body = {"items": [{"sku_id": "sku-1", "quantity": 1}]}
    r = await gw.client.post("/v1/orders", json=body, headers={**tmall, "Idempotency-Key": "t-1"})
    assert r.status_code == 201 and r.json()["channel"] == "tmall", r.text
    r = await gw.client.post("/v1/orders", json=body, headers={**buyer, "Idempotency-Key": "b-1"})
    assert r.status_code == 201 and r.json()["channel"] == "web", r.text
    # Naming a channel in the body is refused, for the channel's account too.
    r = await gw.client.post(
        "/v1/orders", json={**body, "channel": "jd"}, headers={**tmall, "Idempotency-Key": "t-2"}
    )
    field_problem(r, ["body", "channel"])
    assert sorted(o.channel for o in fake.orders.values()) == ["tmall", "web"]
