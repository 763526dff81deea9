"""Keyset paging end to end: the buyer's orders (GET /v1/me/orders and the user centre /me), keys
(GET /v1/me/keys) and the exception queue (GET /v1/admin/ops/queue) go a page at a time with an opaque cursor;
orders placed while a buyer pages never repeat or skip one; a changed cursor or a limit out of bounds is a 422
problem, never a 500."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

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
    problem,
)

pytestmark = pytest.mark.integration

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_ORDER_SECTION = re.compile(r'<section class="panel" id="order-([^"]+)"')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_PREV = re.compile(r'<a href="([^"]+)" rel="prev">')
_KEY_LINK = re.compile(r'href="/me/keys/([^"]+)"')


def _ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [o["order_id"] for o in r.json()["items"]]


def _tampered(cursor: str) -> list[str]:
    """Cursors a client might send instead of the one it got: changed, cut short, or made up."""
    made_up = base64.urlsafe_b64encode(b'["yesterday","x"]').rstrip(b"=").decode()
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    return [cursor[:10], made_up, "WzEsMl0", flipped + "x"]


async def test_a_buyer_pages_through_their_orders_while_placing_more_and_sees_each_once_newest_first(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    sku = await create_sku_with_keys(await admin(http), fresh_keys(5))
    email = f"pager-{uuid.uuid4().hex[:10]}"
    alice = await new_buyer(http, email)
    placed = [(await place_order(alice, sku["sku_id"])).json() for _ in range(4)]  # risk: 5 a minute a buyer
    newest_first = [o["order_id"] for o in reversed(placed)]

    first = await alice.get("/v1/me/orders", params={"limit": 2})
    assert _ids(first) == newest_first[:2]
    cursor = first.json()["next_cursor"]
    assert cursor
    # An order placed while Alice reads the next page is newer than where she is: it is on no later page.
    late, second = await asyncio.gather(
        place_order(alice, sku["sku_id"]), alice.get("/v1/me/orders", params={"limit": 2, "cursor": cursor})
    )
    assert late.status_code == 201, late.text
    assert _ids(second) == newest_first[2:] and second.json()["next_cursor"] is None
    everything = await alice.get("/v1/me/orders")
    assert _ids(everything) == [late.json()["order_id"], *newest_first]

    # Another buyer with Alice's cursor sees only their own orders (none).
    bob = await new_buyer(http)
    assert _ids(await bob.get("/v1/me/orders", params={"cursor": cursor})) == []

    for bad in _tampered(cursor):
        body = problem(await alice.get("/v1/me/orders", params={"cursor": bad}), 422)
        assert "Traceback" not in body["detail"]
    problem(await alice.get("/v1/me/orders", params={"cursor": "not base64!"}), 422)
    problem(await alice.get("/v1/me/orders", params={"cursor": "A" * 201}), 422)
    for limit in (0, 201, -1):
        problem(await alice.get("/v1/me/orders", params={"limit": limit}), 422)

    # Pay them all: unpaid orders hold stock for the buyer (and the suite's client address) until they expire.
    for order in [*placed, late.json()]:
        assert (await pay(http, order)).status_code == 200
    for order in [*placed, late.json()]:
        await eventually(lambda o=order: _fulfilled(alice, o["order_id"]))

    keys_of = await _key_pages(alice, [late.json()["order_id"], *newest_first])
    await _user_centre_pages(http, f"{email}@buyer.test", newest_first, late.json()["order_id"], keys_of)

    # Her refund requests (the gateway's own list) page the same way.
    for order_id in newest_first[:3]:
        r = await alice.post(f"/v1/me/orders/{order_id}/refund-requests", json={"reason": "other"})
        assert r.status_code == 201, r.text
    first = await alice.get("/v1/me/refund-requests", params={"limit": 2})
    assert [r["order_id"] for r in first.json()["items"]] == newest_first[:3][::-1][:2]
    rest = await alice.get("/v1/me/refund-requests", params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [r["order_id"] for r in rest.json()["items"]] == newest_first[:1] and rest.json()["next_cursor"] is None
    adm = await admin(http)
    for path in ("/v1/me/refund-requests", "/v1/admin/refund-requests"):
        client = alice if "/me/" in path else adm
        for bad in _tampered(first.json()["next_cursor"]):
            problem(await client.get(path, params={"cursor": bad}), 422)
        problem(await client.get(path, params={"limit": 0}), 422)


async def _fulfilled(buyer: Client, order_id: str) -> bool:
    return await order_status(buyer, order_id) == "FULFILLED"


async def _key_pages(buyer: Client, orders: list[str]) -> dict[str, set[str]]:
    """The buyer's keys over the API, two delivered orders a page, newest delivered first: each order's keys
    on exactly one page; a changed cursor or a limit out of bounds is a 422 problem. Each order's key ids."""
    pages: list[list[dict[str, Any]]] = []
    cursors: list[str] = []
    while True:
        params = {"limit": 2, **({"cursor": cursors[-1]} if cursors else {})}
        r = await buyer.get("/v1/me/keys", params=params)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        if not r.json()["next_cursor"]:
            break
        cursors.append(r.json()["next_cursor"])
    per_page = [{k["order_id"] for k in p} for p in pages]
    assert [len(p) for p in per_page] == [2, 2, 1]
    assert sorted(o for p in per_page for o in p) == sorted(orders)
    delivered = [(datetime.fromisoformat(k["delivered_at"]), k["order_id"]) for p in pages for k in p]
    assert delivered == sorted(delivered, reverse=True)
    for bad in _tampered(cursors[0]):
        problem(await buyer.get("/v1/me/keys", params={"cursor": bad}), 422)
    for limit in (0, 101):
        problem(await buyer.get("/v1/me/keys", params={"limit": limit}), 422)
    keys_of: dict[str, set[str]] = {}
    for k in (k for p in pages for k in p):
        keys_of.setdefault(k["order_id"], set()).add(k["key_id"])
    return keys_of


async def _user_centre_pages(
    http: httpx.AsyncClient, email: str, older: list[str], newest: str, keys_of: dict[str, set[str]]
) -> None:
    """The user centre over the web session: two orders a page, each with its keys (and no other order's),
    next and previous links, a changed link refused with a 422 page."""
    async with httpx.AsyncClient(base_url=str(http.base_url), timeout=30) as web:
        login = await web.get("/login")
        found = _META.search(login.text)
        assert found
        r = await web.post(
            "/login", data={"email": email, "password": "buyer-password", "csrf_token": found.group(1)}
        )
        assert r.status_code == 303, r.text
        pages: list[list[str]] = []
        r = await web.get("/me?limit=2")
        while True:
            assert r.status_code == 200, r.text
            pages.append(_ORDER_SECTION.findall(r.text))
            assert set(_KEY_LINK.findall(r.text)) == {k for o in pages[-1] for k in keys_of[o]}
            link = _NEXT.search(r.text)
            if link is None:
                break
            r = await web.get(link.group(1).replace("&amp;", "&"))
        assert [o for p in pages for o in p] == [newest, *older]
        assert [len(p) for p in pages] == [2, 2, 1]
        back = _PREV.search(r.text)
        assert back is not None
        again = await web.get(back.group(1).replace("&amp;", "&"))
        assert _ORDER_SECTION.findall(again.text) == pages[1]
        refused = await web.get("/me?page_token=WzEsMl0")
        assert refused.status_code == 422 and "Traceback" not in refused.text


async def test_the_exception_queue_goes_a_page_at_a_time_oldest_first_each_entry_once(
    http: httpx.AsyncClient,
) -> None:
    adm = await admin(http)
    everything = await adm.get("/v1/admin/ops/queue", params={"include_resolved": True, "limit": 500})
    assert everything.status_code == 200, everything.text
    seen: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(600):
        params: dict[str, Any] = {"include_resolved": True, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await adm.get("/v1/admin/ops/queue", params=params)
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"] or ""
        if not cursor:
            break
    ids = [e["order_id"] for e in seen]
    assert len(ids) == len(set(ids)) >= len(everything.json()["items"])
    keys = [(datetime.fromisoformat(e["queued_at"]), e["order_id"]) for e in seen]
    assert keys == sorted(keys)
    problem(await adm.get("/v1/admin/ops/queue", params={"cursor": "WzEsMl0"}), 422)
    problem(await adm.get("/v1/admin/ops/queue", params={"cursor": "%%%"}), 422)
    for limit in (0, 501):
        problem(await adm.get("/v1/admin/ops/queue", params={"limit": limit}), 422)


async def test_coupons_go_a_page_at_a_time_newest_first_each_once(http: httpx.AsyncClient) -> None:
    adm = await admin(http)
    for n in range(3):
        r = await adm.post("/v1/admin/coupons", json={
            "code": f"P{uuid.uuid4().hex[:8]}{n}", "kind": "percent", "percent_off_bps": 100,
        })
        assert r.status_code == 201, r.text
    seen: list[str] = []
    cursor = ""
    for _ in range(500):
        r = await adm.get("/v1/admin/coupons", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        seen += [c["code"] for c in r.json()["coupons"]]
        cursor = r.json()["next_cursor"] or ""
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3
    problem(await adm.get("/v1/admin/coupons", params={"cursor": "WzEsMl0"}), 422)
