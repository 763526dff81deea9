from typing import Any

ADMIN_ROUTES = [
    ("POST", "/v1/admin/products", {"name": "Gift card", "kind": "card_key"}),
    (
        "POST",
        "/v1/admin/products/p-1/skus",
        {"name": "100", "price": {"amount_minor": 100, "currency": "CNY"}},
    ),
    ("POST", "/v1/admin/skus/s-1/pools", {"name": "main"}),
    ("GET", "/v1/admin/ledger/balances", None),
    ("GET", "/v1/admin/ledger/verify", None),
    ("POST", "/v1/admin/orders/o-1/review", {"approve": True}),
]


async def test_admin_routes_are_403_for_buyers_and_ask_no_peer(gw: Any, fake: Any) -> None:
    _, buyer = await gw.buyer("buyer@example.com")
    for method, path, body in ADMIN_ROUTES:
        r = await gw.client.request(method, path, json=body, headers=buyer)
        assert r.status_code == 403, path
        assert r.headers["content-type"] == "application/problem+json"
    r = await gw.client.post(
        "/v1/admin/pools/pool-1/imports",
        files={"file": ("keys.csv", b"code,password\nA,1\n")},
        data={"unit_cost_minor": "100", "currency": "CNY"},
        headers=buyer,
    )
    assert r.status_code == 403
    assert fake.calls == []


async def test_admin_routes_are_401_without_a_token(gw: Any) -> None:
    for method, path, body in ADMIN_ROUTES:
        assert (await gw.client.request(method, path, json=body)).status_code == 401


async def test_an_admin_builds_the_catalogue(gw: Any, fake: Any) -> None:
    admin = await gw.admin()
    product = await gw.client.post(
        "/v1/admin/products", json={"name": "Gift card", "kind": "card_key"}, headers=admin
    )
    assert product.status_code == 201
    assert product.json() == {"product_id": "p-1", "name": "Gift card", "kind": "card_key"}
    sku = await gw.client.post(
        "/v1/admin/products/p-1/skus",
        json={"name": "100", "price": {"amount_minor": 10000, "currency": "CNY"}, "low_stock_threshold": 5},
        headers=admin,
    )
    assert sku.status_code == 201
    assert sku.json()["price"] == {"amount_minor": 10000, "currency": "CNY"}
    pool = await gw.client.post("/v1/admin/skus/s-new/pools", json={"name": "main"}, headers=admin)
    assert pool.json() == {"pool_id": "pool-1", "sku_id": "s-new", "name": "main"}


async def test_an_admin_imports_keys_from_a_csv_upload(gw: Any, fake: Any) -> None:
    admin = await gw.admin()
    csv = b"code,password\nAAA,1\nBBB,2\n,3\n"
    r = await gw.client.post(
        "/v1/admin/pools/pool-1/imports",
        files={"file": ("keys.csv", csv, "text/csv")},
        data={"unit_cost_minor": "800", "currency": "CNY"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "batch_id": "b-1",
        "imported": 2,
        "duplicates": 0,
        "rejected": [{"row": 4, "reason": "empty code"}],
    }
    (request,) = fake.imports
    assert request.csv == csv
    assert (request.unit_cost.minor_units, request.unit_cost.currency) == (800, "CNY")
    assert request.actor.startswith("admin:")


async def test_an_import_larger_than_the_limit_is_413(
    start_gateway: Any, make_settings: Any, fake: Any
) -> None:
    gw = await start_gateway(make_settings(max_import_bytes=10))
    r = await gw.client.post(
        "/v1/admin/pools/pool-1/imports",
        files={"file": ("keys.csv", b"code\n" + b"A" * 100)},
        data={"unit_cost_minor": "1", "currency": "CNY"},
        headers=await gw.admin(),
    )
    assert r.status_code == 413
    assert fake.imports == []


async def test_an_admin_reads_the_ledger_and_reviews_orders(gw: Any, fake: Any) -> None:
    admin = await gw.admin()
    balances = await gw.client.get("/v1/admin/ledger/balances", headers=admin)
    assert balances.json() == {
        "balances": [{"account": "revenue:web", "balance_minor": -2000, "currency": "CNY"}]
    }
    verify = await gw.client.get("/v1/admin/ledger/verify", headers=admin)
    assert verify.json() == {"ok": True, "entries": 3, "problems": []}
    missing = await gw.client.post("/v1/admin/orders/o-404/review", json={"approve": True}, headers=admin)
    assert missing.status_code == 404


async def test_an_admin_may_read_any_order(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, buyer = await gw.buyer("buyer@example.com")
    placed = await gw.client.post(
        "/v1/orders",
        json={"items": [{"sku_id": "sku-a", "quantity": 1}]},
        headers={**buyer, "Idempotency-Key": "k"},
    )
    order_id = placed.json()["order_id"]
    assert (await gw.client.get(f"/v1/orders/{order_id}", headers=await gw.admin())).status_code == 200
