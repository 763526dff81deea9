"""The buyer's pages at a phone's width, used with the keyboard only, in English."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import new_context, shot
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    order_status,
    pay,
    place_order,
    sign_in,
)

pytestmark = pytest.mark.integration


async def _tab_to(page: Page, text: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text is `text` (fails if it never is)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''")
        if focused == text:
            return
    raise AssertionError(f"{text!r} is not reachable with Tab")


async def test_a_buyer_on_a_phone_signs_in_switches_to_english_and_reveals_a_key_with_the_keyboard_only(
    http: httpx.AsyncClient, stack: Stack, browser: Browser
) -> None:
    keys = fresh_keys(1)
    sku = await create_sku_with_keys(await admin(http), keys)
    email = f"phone-{uuid.uuid4().hex[:10]}@buyer.test"
    assert (await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})).status_code == 201
    buyer = await sign_in(http, email, "buyer-password")
    order = (await place_order(buyer, sku["sku_id"])).json()
    assert (await pay(http, order)).status_code == 200
    await eventually(lambda: _fulfilled(buyer, order["order_id"]))

    context = await new_context(browser, stack, phone=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto("/me")  # signed out: to the sign-in page, and back after it
        await expect(page).to_have_url("/login?next=/me")
        await page.keyboard.press("Tab")  # the first stop is the skip link
        assert await page.evaluate("document.activeElement.className") == "skip-link"
        await page.get_by_label("电子邮箱").focus()
        await page.keyboard.type(email)
        await page.keyboard.press("Tab")
        await page.keyboard.type("buyer-password")
        await page.keyboard.press("Enter")
        await expect(page).to_have_url("/me")

        # The language switch: a select that submits itself on change; English from then on.
        await page.locator("#lang-select").focus()
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.get_by_role("heading", level=1)).to_have_text("My account")

        # Nothing overflows the phone's width.
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

        await _tab_to(page, "Reveal key")
        await page.keyboard.press("Enter")
        await expect(page.locator("code.secret").first).to_have_text(keys[0][0])
        assert await page.evaluate("document.activeElement.textContent.trim()") == "Copy"
        await expect(page.get_by_role("button", name="Reveal key")).to_be_hidden()
        await shot(page, "phone-keyboard-english-reveal")
        assert not errors, errors
    finally:
        await context.close()


async def _fulfilled(buyer: object, order_id: str) -> bool:
    return await order_status(buyer, order_id) == "FULFILLED"  # type: ignore[arg-type]
