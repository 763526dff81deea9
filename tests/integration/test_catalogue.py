"""Anyone can browse the catalogue through the gateway, a page at a time, with live stock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.harness import admin, create_sku_with_keys, fresh_keys, problem

pytestmark = pytest.mark.integration


async def _every_sku(http: httpx.AsyncClient, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        r = await http.get("/v1/skus", params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_shopper_pages_through_the_catalogue_and_sees_prices_and_stock(http: httpx.AsyncClient) -> None:
    adm = await admin(http)
    made = [
        await create_sku_with_keys(adm, fresh_keys(n), price_minor=price, name=name)
        for n, price, name in ((3, 2500, "Bilibili"), (1, 1500, "NetEase Music"), (2, 3000, "WPS"))
    ]
    listed = await _every_sku(http, limit=2)
    ids = [s["sku_id"] for s in listed]
    assert len(ids) == len(set(ids))  # no SKU twice across pages
    ours = [s for s in listed if s["sku_id"] in {m["sku_id"] for m in made}]
    assert [s["sku_id"] for s in ours] == [m["sku_id"] for m in made]  # oldest first
    assert [(s["name"], s["price"]["amount_minor"], s["available"]) for s in ours] == [
        ("Bilibili month", 2500, 3),
        ("NetEase Music month", 1500, 1),
        ("WPS month", 3000, 2),
    ]


async def test_a_bad_page_request_gets_a_problem(http: httpx.AsyncClient) -> None:
    problem(await http.get("/v1/skus", params={"limit": 0}), 422)
    problem(await http.get("/v1/skus", params={"limit": 201}), 422)
    problem(await http.get("/v1/skus", params={"cursor": "x" * 65}), 422)
