"""The buyer's order page follows the order through server-sent events: the delivered key shows within a
second of its delivery, without a reload and without polling; without EventSource the page polls instead.
The stream is the buyer's own, like the page."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Request, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import shot
from tests.integration.browser.test_buyer import _record_timing
from tests.integration.browser.test_web_http import Browser
from tests.integration.harness import (
    Client,
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    pay,
    place_order,
    sign_in,
)

pytestmark = pytest.mark.integration

# Set on the page: the wall-clock time (ms) the first key row appeared.
_WATCH_KEY_ROW = """
new MutationObserver((_, observer) => {
  if (document.querySelector("table.keys tbody tr")) {
    window.__keyShownAt = Date.now();
    observer.disconnect();
  }
}).observe(document.body, { childList: true, subtree: true });
"""


async def _unpaid_order_on_the_page(http: httpx.AsyncClient, page: Page) -> tuple[Client, dict[str, Any]]:
    """A buyer's unpaid order for one key, open on its page in the buyer's signed-in browser."""
    sku = await create_sku_with_keys(await admin(http), fresh_keys(1))
    email = f"live-{uuid.uuid4().hex[:10]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    buyer = await sign_in(http, email, "buyer-password")
    order = (await place_order(buyer, sku["sku_id"])).json()
    await page.goto(f"/login?next=/orders/{order['order_id']}")
    await page.get_by_label("电子邮箱").fill(email)
    await page.get_by_label("密码").fill("buyer-password")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"/orders/{order['order_id']}")
    await expect(page.locator("[data-order-status]")).to_have_attribute(
        "data-order-status", "PENDING_PAYMENT"
    )
    return buyer, order


async def _delivered_at(buyer: Client, order_id: str) -> float:
    """The wall-clock time (s) the buyer's API first lists the order's key (looked at every 20 ms)."""

    async def delivered() -> float | None:
        r = await buyer.get(f"/v1/me/keys?order_id={order_id}")
        return time.time() if r.status_code == 200 and r.json()["items"] else None

    found: float = await eventually(delivered, timeout=30, interval=0.02)
    return found


async def test_the_order_page_shows_the_delivered_key_within_a_second_through_server_sent_events(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    buyer, order = await _unpaid_order_on_the_page(http, page)
    order_id = order["order_id"]
    live = page.locator("[data-live]")
    await expect(live).to_have_attribute("data-live-via", "stream")
    await page.evaluate(_WATCH_KEY_ROW)
    await page.evaluate("window.__sameDocument = true")

    assert (await pay(http, order)).status_code == 200
    delivered_at = await _delivered_at(buyer, order_id)
    await expect(page.locator("table.keys tbody tr")).to_have_count(1, timeout=10_000)
    shown_at = await page.evaluate("window.__keyShownAt") / 1000
    lag = shown_at - delivered_at
    _record_timing("delivered_to_key_on_page_sse_s", lag)
    assert lag < 1.0, lag
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "FULFILLED")
    assert await page.evaluate("window.__sameDocument === true"), "the order page reloaded"

    # One stream, no polling of the fragment.
    assert any(u.endswith(f"/orders/{order_id}/events") for u in asked), asked
    assert not any(u.endswith(f"/orders/{order_id}/live") for u in asked), asked
    await shot(page, "buyer-live-order-sse")


async def test_without_eventsource_the_order_page_polls_and_still_shows_the_key(
    http: httpx.AsyncClient, stack: Stack, context: BrowserContext, page: Page
) -> None:
    await context.add_init_script("delete window.EventSource;")
    asked: list[str] = []

    def note(r: Request) -> None:
        asked.append(r.url)

    page.on("request", note)
    _, order = await _unpaid_order_on_the_page(http, page)
    order_id = order["order_id"]
    await expect(page.locator("[data-live]")).to_have_attribute("data-live-via", "poll")
    assert (await pay(http, order)).status_code == 200
    await expect(page.locator("table.keys tbody tr")).to_have_count(1, timeout=20_000)
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "FULFILLED")
    assert any(u.endswith(f"/orders/{order_id}/live") for u in asked), asked
    assert not any(u.endswith(f"/orders/{order_id}/events") for u in asked), asked
    await shot(page, "buyer-live-order-polling-fallback")


async def test_an_order_stream_is_only_its_buyers_and_ends_once_the_order_rests(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    sku = await create_sku_with_keys(await admin(http), fresh_keys(1))
    email = f"live-{uuid.uuid4().hex[:10]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    buyer = await sign_in(http, email, "buyer-password")
    order = (await place_order(buyer, sku["sku_id"])).json()
    assert (await pay(http, order)).status_code == 200
    await _delivered_at(buyer, order["order_id"])
    path = f"/orders/{order['order_id']}/events"
    alice, bob, nobody = Browser(stack), Browser(stack), Browser(stack)
    try:
        r = await alice.http.post(
            "/login", data={"email": email, "password": "buyer-password", "csrf_token": await alice.token()}
        )
        assert r.status_code == 303, r.text
        await bob.sign_up()

        r = await bob.http.get(path)
        assert r.status_code == 404 and "event-stream" not in r.headers["content-type"]
        assert "<table" not in r.text
        r = await nobody.http.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

        # The order rests (its key is delivered): one fragment with the key, "done", and the stream ends.
        events: list[str] = []
        data: list[str] = []
        async with alice.http.stream("GET", path, timeout=20) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert stream.headers["cache-control"] == "no-store"
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                elif line.startswith("data: "):
                    data.append(line.removeprefix("data: "))
        assert events == ["fragment", "done"]
        assert any("data-live-done" in d for d in data) and any('class="responsive keys"' in d for d in data)
    finally:
        for b in (alice, bob, nobody):
            await b.close()


async def test_a_buyer_holds_at_most_four_order_streams_at_once(http: httpx.AsyncClient, stack: Stack) -> None:
    """Each open stream looks at the order's services four times a second: a fifth at once is a 429 (the
    page then polls), and a stream that ends gives its slot back."""
    sku = await create_sku_with_keys(await admin(http), fresh_keys(1))
    email = f"live-{uuid.uuid4().hex[:10]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    buyer = await sign_in(http, email, "buyer-password")
    order = (await place_order(buyer, sku["sku_id"])).json()  # unpaid: its streams stay open
    path = f"/orders/{order['order_id']}/events"
    alice = Browser(stack)
    try:
        r = await alice.http.post(
            "/login", data={"email": email, "password": "buyer-password", "csrf_token": await alice.token()}
        )
        assert r.status_code == 303, r.text
        async with contextlib.AsyncExitStack() as held:
            for _ in range(4):
                stream = await held.enter_async_context(alice.http.stream("GET", path, timeout=20))
                assert stream.status_code == 200
            r = await alice.http.get(path)
            assert r.status_code == 429 and "event-stream" not in r.headers["content-type"]
            assert int(r.headers["retry-after"]) >= 1
        # The four ended when their requests closed: the next stream opens.

        async def opens() -> bool | None:
            async with alice.http.stream("GET", path, timeout=20) as again:
                return True if again.status_code == 200 else None

        assert await eventually(opens, timeout=10, interval=0.2)
    finally:
        await alice.close()
