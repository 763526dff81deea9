"""Driving quanyi over HTTP only, as a buyer, an admin, a payment provider and a partner would."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

ADMIN_EMAIL = "admin@quanyi.test"
ADMIN_PASSWORD = "admin-password-for-tests"
PARTNER = "demo-partner"
PARTNER_SECRET = "partner-secret-for-tests"


SEEN_SECRETS: list[str] = []


def fresh_keys(n: int) -> list[tuple[str, str]]:
    """Distinctive codes and passwords; every one is remembered for the plaintext check (I5)."""
    keys = [(f"QYCODE-{uuid.uuid4().hex}", f"QYPASS-{uuid.uuid4().hex}") for _ in range(n)]
    SEEN_SECRETS.extend(s for pair in keys for s in pair)
    return keys


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached within {timeout}s; last: {last!r}")


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with `status` and return its body."""
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"], body
    assert "Traceback" not in r.text
    return body


@dataclass
class Client:
    http: httpx.AsyncClient
    token: str = ""

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers={**self.auth(), **kw.pop("headers", {})}, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.post(path, headers={**self.auth(), **kw.pop("headers", {})}, **kw)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> Client:
    r = await http.post("/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return Client(http, r.json()["access_token"])


async def new_buyer(http: httpx.AsyncClient, name: str | None = None) -> Client:
    email = f"{name or uuid.uuid4().hex[:12]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    return await sign_in(http, email, "buyer-password")


async def admin(http: httpx.AsyncClient) -> Client:
    return await sign_in(http, ADMIN_EMAIL, ADMIN_PASSWORD)


async def create_sku_with_keys(
    adm: Client,
    keys: list[tuple[str, str]],
    price_minor: int = 1990,
    cost_minor: int = 1200,
    name: str = "iQIYI VIP",
) -> dict[str, Any]:
    r = await adm.post("/v1/admin/products", json={"name": name, "kind": "card_key"})
    assert r.status_code == 201, r.text
    product_id = r.json()["product_id"]
    r = await adm.post(
        f"/v1/admin/products/{product_id}/skus",
        json={"name": f"{name} month", "price": {"amount_minor": price_minor, "currency": "CNY"}},
    )
    assert r.status_code == 201, r.text
    sku = r.json()
    # The demo partner may report redemptions of this SKU's keys (partners are scoped to their SKUs).
    r = await adm.post(f"/v1/admin/partners/{PARTNER}/skus", json={"sku_ids": [sku["sku_id"]]})
    assert r.status_code == 200, r.text
    r = await adm.post(f"/v1/admin/skus/{sku['sku_id']}/pools", json={"name": "main"})
    assert r.status_code == 201, r.text
    pool_id = r.json()["pool_id"]
    csv_text = "code,password\n" + "".join(f"{c},{p}\n" for c, p in keys)
    r = await adm.post(
        f"/v1/admin/pools/{pool_id}/imports",
        files={"file": ("keys.csv", csv_text.encode(), "text/csv")},
        data={"unit_cost_minor": str(cost_minor), "currency": "CNY"},
    )
    assert r.status_code in (200, 201), r.text
    assert r.json()["imported"] == len(keys), r.text
    return {"sku_id": sku["sku_id"], "pool_id": pool_id, "product_id": product_id}


async def place_order(
    buyer: Client, sku_id: str, quantity: int = 1, key: str | None = None
) -> httpx.Response:
    return await buyer.post(
        "/v1/orders",
        json={"items": [{"sku_id": sku_id, "quantity": quantity}]},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def pay(
    http: httpx.AsyncClient, order: dict[str, Any], amount_minor: int | None = None
) -> httpx.Response:
    amount = order["total"]["amount_minor"] if amount_minor is None else amount_minor
    return await http.post(
        "/psp-sim/v1/pay",
        json={
            "order_id": order["order_id"],
            "amount": {"amount_minor": amount, "currency": order["total"]["currency"]},
        },
    )


def partner_headers(
    body: bytes, secret: str = PARTNER_SECRET, nonce: str | None = None, ts: int | None = None
) -> dict[str, str]:
    timestamp = str(ts if ts is not None else int(time.time()))
    nonce = nonce or uuid.uuid4().hex
    message = f"{timestamp}\n{nonce}\n".encode() + body
    return {
        "X-Partner-Timestamp": timestamp,
        "X-Partner-Nonce": nonce,
        "X-Partner-Signature": hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def redeem(http: httpx.AsyncClient, code: str, **kw: Any) -> httpx.Response:
    body = json.dumps({"code": code}).encode()
    return await http.post(
        f"/v1/partners/{PARTNER}/redemptions", content=body, headers=partner_headers(body, **kw)
    )


async def quiet(database_url: str) -> bool:
    """True when no service has an event left to publish."""
    from tests.integration.checks import scalar

    n = await scalar(
        database_url,
        " + ".join(
            f"(SELECT count(*) FROM {s}.events WHERE seq > (SELECT coalesce(max(published_through), 0)"
            f" FROM {s}.relay_state))"
            for s in ("orders", "inventory", "fulfillment", "ledger", "risk")
        ).join(("SELECT ", "")),
    )
    return bool(n == 0)


async def order_status(buyer: Client, order_id: str) -> str:
    r = await buyer.get(f"/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    return str(r.json()["status"])
