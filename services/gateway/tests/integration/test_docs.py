"""The API's documentation works offline: Swagger UI and ReDoc come from an installed package."""

from __future__ import annotations

from typing import Any


async def test_the_docs_page_loads_its_assets_from_the_gateway_itself(gw: Any) -> None:
    page = await gw.client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        url = next(part for part in page.text.split("'") + page.text.split('"') if part.endswith(asset))
        r = await gw.client.get(url)
        assert r.status_code == 200 and len(r.content) > 10_000, url
    spec = (await gw.client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert not [p for p in spec["paths"] if "static" in p]
    redoc = await gw.client.get("/redoc")
    assert redoc.status_code == 200 and "https://" not in redoc.text
