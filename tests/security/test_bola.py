"""Object-level authorization on every buyer route: another buyer's order and keys are answered exactly as
missing ones, reveal nothing (no audited reveal is recorded) and change nothing; buyers reach no admin
route; partners reach only their SKUs' keys."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration.harness import (
    PARTNER,
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    partner_headers,
    pay,
    place_order,
    problem,
    redeem,
)
from tests.security.conftest import changed, settled_counts

pytestmark = pytest.mark.integration


async def test_another_buyers_order_and_keys_are_answered_as_missing_ones_and_change_nothing(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    keys = fresh_keys(2)  # one for Alice, one that Bob's order below may hold
    sku = await create_sku_with_keys(adm, keys)
    alice, bob = await new_buyer(http), await new_buyer(http)
    key = uuid.uuid4().hex
    order = (await place_order(alice, sku["sku_id"], key=key)).json()
    assert (await pay(http, order)).status_code == 200
    await eventually(lambda: _is(alice, order["order_id"], "FULFILLED"))
    url = stack.config.database_url
    before = await settled_counts(url)

    missing = str(uuid.uuid4())
    for path in ("/v1/orders/{}", "/v1/me/keys?order_id={}"):
        theirs = await bob.get(path.format(order["order_id"]))
        nobodys = await bob.get(path.format(missing))
        assert problem(theirs, 404)["detail"] == problem(nobodys, 404)["detail"]
        assert theirs.json()["type"] == nobodys.json()["type"]
    assert order["order_id"] not in {o["order_id"] for o in (await bob.get("/v1/me/orders")).json()["items"]}
    assert (await bob.get("/v1/me/keys")).json() == {"items": [], "next_cursor": None}
    for code, _ in keys:
        assert code not in (await bob.get("/v1/me/keys")).text
    # Admin routes: 403, whatever they name.
    for method, path, body in (
        ("POST", f"/v1/admin/orders/{order['order_id']}/review", {"approve": False}),
        ("POST", "/v1/admin/products", {"name": "x", "kind": "card_key"}),
        ("POST", "/v1/admin/accounts/unlock", {"email": "x@x.test"}),
        ("PUT", f"/v1/admin/partners/{PARTNER}/skus", {"sku_ids": []}),
        ("GET", "/v1/admin/ledger/balances", None),
    ):
        r = await http.request(method, path, json=body, headers=bob.auth())
        problem(r, 403)
    assert changed(before, await settled_counts(url)) == {}
    # Bob's order under Alice's idempotency key is Bob's own new order.
    r = await place_order(bob, sku["sku_id"], key=key)
    assert r.status_code == 201 and r.json()["order_id"] != order["order_id"], r.text
    assert r.json()["buyer_id"] != order["buyer_id"]


async def test_a_partner_redeems_only_its_skus_keys_and_cannot_tell_a_foreign_code_from_an_unknown_one(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    theirs_keys = fresh_keys(1)
    sku = await create_sku_with_keys(adm, theirs_keys)
    # Take the SKU back from the demo partner: its keys are another partner's business now.
    mine = (await adm.get(f"/v1/admin/partners/{PARTNER}/skus")).json()["sku_ids"]
    r = await http.put(
        f"/v1/admin/partners/{PARTNER}/skus",
        json={"sku_ids": [s for s in mine if s != sku["sku_id"]]},
        headers=adm.auth(),
    )
    assert r.status_code == 200 and sku["sku_id"] not in r.json()["sku_ids"]
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    assert (await pay(http, order)).status_code == 200
    await eventually(lambda: _is(buyer, order["order_id"], "FULFILLED"))
    url = stack.config.database_url
    before = await settled_counts(url)
    foreign = await redeem(http, theirs_keys[0][0])
    unknown = await redeem(http, f"QYCODE-{uuid.uuid4().hex}")
    assert problem(foreign, 404)["detail"] == problem(unknown, 404)["detail"]
    assert foreign.json()["type"] == unknown.json()["type"]
    assert theirs_keys[0][0] not in foreign.text
    assert changed(before, await settled_counts(url)) == {}
    # Granted the SKU again, the partner records the redemption.
    r = await adm.post(f"/v1/admin/partners/{PARTNER}/skus", json={"sku_ids": [sku["sku_id"]]})
    assert r.status_code == 200
    r = await redeem(http, theirs_keys[0][0])
    assert r.status_code == 200 and r.json()["order_id"] == order["order_id"], r.text
    # A tampered callback (body changed after signing) is refused.
    body = json.dumps({"code": theirs_keys[0][0]}).encode()
    headers = partner_headers(body)
    r = await http.post(
        f"/v1/partners/{PARTNER}/redemptions", content=body.replace(b"}", b' }'), headers=headers
    )
    problem(r, 401)


async def _is(buyer: object, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status  # type: ignore[arg-type]
