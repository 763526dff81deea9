"""Operators' roles, checked on the server: each role against each admin route, allowed or 403.

The gateway runs against real Postgres with its peers faked over real gRPC; a refused request must be
refused before any peer is asked. An allowed request may still fail at the fake peer (it implements only
some calls): what counts is that the gateway let it through, neither 401 nor 403.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from quanyi_gateway.application.roles import OPERATOR_ROLES

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

PASSWORD = "operator-password"
ROLES = ("admin", *OPERATOR_ROLES)

# Who may do what, written out from the policy in the issue (owner: all; operations: products, SKUs,
# pools, keys, orders, exceptions, deliveries; finance: reports, ledger, reconciliation, refunds; support:
# orders, exception queue actions, resends, audit; read-only: GET only, never codes). `admin` is the
# owner the environment configures.
OWNERS = {"admin", "owner"}
OPS = OWNERS | {"operations"}
FIN = OWNERS | {"finance"}
FIN_READ = FIN | {"read-only"}
OPS_READ = OPS | {"read-only"}
EVERYONE = set(ROLES)

JSON = "json"
MULTIPART_KEYS = "multipart-keys"
MULTIPART_BILL = "multipart-bill"
OCTETS = "octets"
BUYER_ID = "0192f0c4-3d5e-7000-8000-000000000001"

ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/admin/products", {"name": "Gift card", "kind": "card_key"}, OPS),
    (
        "POST",
        "/v1/admin/products/p-1/skus",
        {"name": "100", "price": {"amount_minor": 100, "currency": "CNY"}},
        OPS,
    ),
    ("POST", "/v1/admin/skus/s-1/pools", {"name": "main"}, OPS),
    ("GET", "/v1/admin/skus/s-1/stock-history?days=7", None, EVERYONE),
    ("PUT", "/v1/admin/skus/s-1/low-stock-threshold", {"low_stock_threshold": 3}, OPS),
    ("GET", "/v1/admin/reports/delivery-latency?hours=24", None, EVERYONE),
    ("POST", "/v1/admin/pools/pool-1/imports", MULTIPART_KEYS, OPS),
    ("POST", "/v1/admin/pools/pool-1/key-files", OCTETS, OPS),
    ("GET", "/v1/admin/key-files", None, OPS_READ),
    ("GET", "/v1/admin/key-files/j-1", None, OPS_READ),
    ("POST", "/v1/admin/keys/rotate-master", {}, OWNERS),
    ("POST", "/v1/admin/batches/b-1/void", {"reason": "supplier recalled"}, OPS),
    ("POST", "/v1/admin/batches/b-1/restore", None, OPS),
    ("POST", "/v1/admin/batches/b-1/move", {"to_pool_id": "pool-2"}, OPS),
    ("GET", "/v1/admin/batches", None, OPS_READ),
    ("GET", "/v1/admin/keys/export", None, OPS_READ),
    ("GET", "/v1/admin/keys/export?with_codes=true", None, OPS),
    ("GET", "/v1/admin/pool-operations", None, OPS_READ),
    ("GET", "/v1/admin/ledger/balances", None, FIN_READ),
    ("GET", "/v1/admin/ledger/verify", None, FIN_READ),
    ("GET", "/v1/admin/orders?channel=web&status=PAID", None, EVERYONE),
    # The whole history across the services: audit:read, which every operator role holds.
    ("GET", "/v1/admin/orders/o-1/history", None, EVERYONE),
    ("GET", "/v1/admin/keys/k-1/history?as_of=2026-12-01T08:00:00Z", None, EVERYONE),
    ("POST", "/v1/admin/orders/o-1/review", {"approve": True}, OPS),
    ("POST", "/v1/admin/orders/o-1/confirm-payment", {"provider": ""}, OPS | {"support"}),
    ("POST", "/v1/admin/orders/o-1/refunds", {"reason": "buyer asked"}, FIN),
    ("POST", "/v1/admin/orders/o-1/deliveries", {"channel": "sms", "target": "+8613800138000"}, OPS | {"support"}),
    ("GET", "/v1/admin/ops/queue", None, EVERYONE),
    ("GET", "/v1/admin/refund-requests", None, EVERYONE),
    ("POST", "/v1/admin/ops/queue/o-1", {"action": "resolve", "note": "done"}, OPS | {"support"}),
    ("POST", "/v1/admin/ops/queue/o-1", {"action": "refund"}, FIN),
    ("POST", "/v1/admin/accounts/unlock", {"email": "buyer@example.com"}, OWNERS | {"support"}),
    ("GET", "/v1/admin/partners/acme/skus", None, OPS_READ),
    ("PUT", "/v1/admin/partners/acme/skus", {"sku_ids": ["sku-a"]}, OPS),
    ("POST", "/v1/admin/partners/acme/skus", {"sku_ids": ["sku-a"]}, OPS),
    ("GET", "/v1/admin/finance/balances", None, FIN_READ),
    ("GET", "/v1/admin/finance/trial-balance", None, FIN_READ),
    ("GET", "/v1/admin/finance/reports/sales", None, FIN_READ),
    ("POST", "/v1/admin/finance/reconciliations", MULTIPART_BILL, FIN),
    ("GET", "/v1/admin/finance/mismatches", None, FIN_READ),
    ("POST", "/v1/admin/finance/mismatches/m-1/resolution", {"note": "fee"}, FIN),
    ("POST", "/v1/admin/finance/chain-head", None, FIN),
    ("GET", "/v1/admin/finance/verify", None, FIN_READ),
    ("GET", "/v1/admin/finance/entries?order_id=o-1", None, FIN_READ),
    ("POST", f"/v1/admin/buyers/{BUYER_ID}/erasure", None, OWNERS),
    ("GET", "/v1/admin/operators", None, OWNERS),
    (
        "POST",
        "/v1/admin/operators",
        {"email": "new-{role}@example.com", "password": PASSWORD, "role": "support"},
        OWNERS,
    ),
    ("PUT", f"/v1/admin/operators/{uuid.UUID(int=1)}/role", {"role": "finance"}, OWNERS),
    ("DELETE", f"/v1/admin/operators/{uuid.UUID(int=1)}", None, OWNERS),
    # Coupons: operations define and disable them; finance and read-only operators list them; support none.
    ("POST", "/v1/admin/coupons", {"code": "SPRING10", "kind": "percent", "percent_off_bps": 1000}, OPS),
    ("GET", "/v1/admin/coupons", None, OPS | {"finance", "read-only"}),
    ("POST", "/v1/admin/coupons/SPRING10/disable", None, OPS),
]


async def _send(gw: Any, method: str, path: str, body: Any, headers: dict[str, str], role: str) -> Any:
    if body == MULTIPART_KEYS:
        return await gw.client.post(
            path,
            files={"file": ("keys.csv", b"code,password\nA,1\n", "text/csv")},
            data={"unit_cost_minor": "100", "currency": "CNY"},
            headers=headers,
        )
    if body == MULTIPART_BILL:
        return await gw.client.post(
            path,
            files={"file": ("bill.csv", b"\xef\xbb\xbf", "text/csv")},
            data={"provider": "wechatpay"},
            headers=headers,
        )
    if body == OCTETS:
        return await gw.client.post(
            path + "?file_name=keys.csv&unit_cost_minor=100&currency=CNY",
            content=b"code\nA\n",
            headers={**headers, "content-type": "application/octet-stream"},
        )
    if isinstance(body, dict) and "email" in body and "role" in body:
        body = {**body, "email": body["email"].format(role=role)}
    return await gw.client.request(method, path, json=body, headers=headers)


async def _operator_headers(gw: Any) -> dict[str, dict[str, str]]:
    """An account of every operator role, made by the owner through the API; role -> Authorization."""
    owner = await gw.admin()
    headers = {"admin": owner}
    for role in OPERATOR_ROLES:
        email = f"{role}@example.com"
        r = await gw.client.post(
            "/v1/admin/operators", json={"email": email, "password": PASSWORD, "role": role}, headers=owner
        )
        assert r.status_code == 201, r.text
        assert r.json()["role"] == role
        headers[role] = {"Authorization": f"Bearer {await gw.token(email, PASSWORD)}"}
    return headers


def test_the_table_names_every_admin_route(gw: Any) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in gw.app.openapi()["paths"].items()
        if path.startswith("/v1/admin")
        for method in operations
    }

    def template(path: str) -> str:
        known = {p for _, p in documented}
        bare = path.split("?")[0]
        for candidate in known:
            parts, shape = bare.split("/"), candidate.split("/")
            if len(parts) == len(shape) and all(
                s.startswith("{") or s == p for p, s in zip(parts, shape, strict=True)
            ):
                return candidate
        raise AssertionError(f"{path} is no documented route")

    tabled = {(method, template(path)) for method, path, _, _ in ROUTES}
    assert documented - tabled == set(), "admin routes missing from the role table"


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reaches_exactly_the_admin_routes_its_job_needs(gw: Any, fake: Any, role: str) -> None:
    headers = (await _operator_headers(gw))[role]
    for method, path, body, allowed in ROUTES:
        fake.calls.clear()
        r = await _send(gw, method, path, body, headers, role)
        label = f"{method} {path} {body if body else ''}".strip()
        if role in allowed:
            assert r.status_code not in (401, 403), f"{role} refused {label}: {r.text}"
        else:
            assert r.status_code == 403, f"{role} let through {label}: {r.status_code} {r.text}"
            assert r.headers["content-type"] == "application/problem+json"
            assert fake.calls == [], f"{role}: {label} asked a peer before refusing"


async def test_a_buyer_is_refused_every_admin_route_and_no_token_is_401(gw: Any, fake: Any) -> None:
    _, buyer = await gw.buyer("buyer@example.com")
    for method, path, body, _ in ROUTES:
        r = await _send(gw, method, path, body, buyer, "buyer")
        assert r.status_code == 403, f"{method} {path}: {r.status_code}"
        r = await _send(gw, method, path, body, {}, "buyer")
        assert r.status_code == 401, f"{method} {path}: {r.status_code}"
    assert fake.calls == []


async def test_a_changed_role_applies_at_the_next_sign_in_and_the_old_tokens_stop(gw: Any) -> None:
    owner = await gw.admin()
    r = await gw.client.post(
        "/v1/admin/operators",
        json={"email": "Sam@Example.com", "password": PASSWORD, "role": "read-only"},
        headers=owner,
    )
    assert r.status_code == 201
    sam = r.json()
    assert (sam["email"], sam["role"]) == ("sam@example.com", "read-only")
    old = {"Authorization": f"Bearer {await gw.token('sam@example.com', PASSWORD)}"}
    assert (await gw.client.post("/v1/admin/orders/o-1/refunds", json={}, headers=old)).status_code == 403

    r = await gw.client.put(f"/v1/admin/operators/{sam['user_id']}/role", json={"role": "finance"}, headers=owner)
    assert r.status_code == 200 and r.json()["role"] == "finance"
    assert (await gw.client.get("/v1/admin/ops/queue", headers=old)).status_code == 401
    # Signing in again at once (the same second as the change) gives a token with the new role.
    new = {"Authorization": f"Bearer {await gw.token('sam@example.com', PASSWORD)}"}
    r = await gw.client.post("/v1/admin/orders/o-1/refunds", json={}, headers=new)
    assert r.status_code not in (401, 403), r.text
    listed = (await gw.client.get("/v1/admin/operators", headers=owner)).json()
    assert {"user_id": sam["user_id"], "email": "sam@example.com", "role": "finance"} in listed
    assert any(o["email"] == ADMIN_EMAIL and o["role"] == "admin" for o in listed)


async def test_a_removed_operator_can_neither_use_a_token_nor_sign_in(gw: Any) -> None:
    owner = await gw.admin()
    r = await gw.client.post(
        "/v1/admin/operators",
        json={"email": "kim@example.com", "password": PASSWORD, "role": "support"},
        headers=owner,
    )
    kim = {"Authorization": f"Bearer {await gw.token('kim@example.com', PASSWORD)}"}
    assert (await gw.client.get("/v1/admin/operators", headers=kim)).status_code == 403
    assert (await gw.client.delete(f"/v1/admin/operators/{r.json()['user_id']}", headers=owner)).status_code == 204
    assert (await gw.client.get("/v1/admin/ops/queue", headers=kim)).status_code == 401
    r = await gw.client.post("/v1/auth/token", json={"email": "kim@example.com", "password": PASSWORD})
    assert r.status_code == 401


async def test_the_configured_owner_and_buyers_are_not_operators_to_change(gw: Any) -> None:
    owner = await gw.admin()
    listed = (await gw.client.get("/v1/admin/operators", headers=owner)).json()
    (configured,) = [o for o in listed if o["email"] == ADMIN_EMAIL]
    r = await gw.client.put(f"/v1/admin/operators/{configured['user_id']}/role", json={"role": "support"}, headers=owner)
    assert r.status_code == 409
    assert (await gw.client.delete(f"/v1/admin/operators/{configured['user_id']}", headers=owner)).status_code == 409
    buyer_id, _ = await gw.buyer("buyer@example.com")
    r = await gw.client.put(f"/v1/admin/operators/{buyer_id}/role", json={"role": "owner"}, headers=owner)
    assert r.status_code == 404
    r = await gw.client.post(
        "/v1/admin/operators",
        json={"email": "buyer@example.com", "password": PASSWORD, "role": "owner"},
        headers=owner,
    )
    assert r.status_code == 409
    r = await gw.client.post(
        "/v1/admin/operators",
        json={"email": "x@example.com", "password": PASSWORD, "role": "admin"},
        headers=owner,
    )
    assert r.status_code == 422
    assert (await gw.token(ADMIN_EMAIL, ADMIN_PASSWORD))
