"""The buyer's kept delivery targets in the user centre: kept, refused when they do not fit their channel,
replaced and removed with the keyboard only, in both languages; forms without a CSRF token change nothing,
and an operator keeps none."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import shot
from tests.integration.browser.test_web_http import Browser
from tests.integration.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Client, sign_in

pytestmark = pytest.mark.integration


async def _targets(buyer: Client) -> dict[str, str]:
    r = await buyer.get("/v1/me/delivery-targets")
    assert r.status_code == 200, r.text
    return {t["channel"]: t["target"] for t in r.json()}


async def _focus_by_tab(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element at `selector` has the focus (fails if it never does)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


async def test_a_buyer_keeps_replaces_and_removes_delivery_targets_with_the_keyboard(
    http: httpx.AsyncClient, stack: Stack, context: BrowserContext
) -> None:
    page = await context.new_page()
    errors: list[str] = []
    # Any script error or CSP violation fails the test; the refused target's page is a 422 on purpose.
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "422" not in m.text else None)
    email = f"targets-{uuid.uuid4().hex[:10]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    buyer = await sign_in(http, email, "buyer-password")

    await page.goto("/login?next=/me")
    await page.get_by_label("电子邮箱").fill(email)
    await page.get_by_label("密码").fill("buyer-password")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url("/me")

    # From the user centre to the targets page with the keyboard.
    await _focus_by_tab(page, 'a[href="/me/delivery-targets"]')
    await page.keyboard.press("Enter")
    await expect(page).to_have_url("/me/delivery-targets")
    await expect(page.get_by_role("heading", level=1)).to_have_text("发货目标")
    await expect(page.get_by_text("您没有保存发货目标")).to_be_visible()

    # A phone number that is not in E.164 is refused with what fits, and nothing is kept.
    await _focus_by_tab(page, "#target-channel")
    await page.keyboard.press("ArrowDown")  # webhook -> sms
    await expect(page.locator("#target-channel")).to_have_value("sms")
    await page.keyboard.press("Tab")
    await page.keyboard.type("13700137000")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("alert")).to_contain_text("+8613800138000")
    await expect(page.locator("#target-value")).to_be_focused()
    assert await _targets(buyer) == {}

    # The right form is kept; the buyer's API sees it.
    await page.locator("#target-value").fill("")
    await page.keyboard.type("+8613700137000")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("目标已保存。")
    row = page.locator('tr[data-channel="sms"]')
    await expect(row.locator("code")).to_have_text("+8613700137000")
    assert await _targets(buyer) == {"sms": "+8613700137000"}

    # A second channel, then the first one replaced: one target per channel.
    await page.locator("#target-channel").select_option("activation")
    await page.locator("#target-value").fill("partner-user-77")
    await page.get_by_role("button", name="保存").click()
    await expect(page.locator('tr[data-channel="activation"] code')).to_have_text("partner-user-77")
    await page.locator("#target-channel").select_option("sms")
    await page.locator("#target-value").fill("+8613900139000")
    await page.get_by_role("button", name="保存").click()
    await expect(row.locator("code")).to_have_text("+8613900139000")
    assert await _targets(buyer) == {"sms": "+8613900139000", "activation": "partner-user-77"}

    # Removed with the keyboard; the page says so in English once English is chosen.
    await page.locator("#lang-select").select_option("en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Delivery targets")
    await _focus_by_tab(page, 'tr[data-channel="sms"] button')
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("The target is removed.")
    await expect(row).to_have_count(0)
    assert await _targets(buyer) == {"activation": "partner-user-77"}
    await shot(page, "buyer-delivery-targets-keyboard")
    assert not errors, errors


async def test_delivery_target_forms_need_the_csrf_token_and_an_operator_keeps_none(stack: Stack) -> None:
    web = Browser(stack)
    operator = Browser(stack)
    try:
        await web.sign_up()
        token = await web.token("/me/delivery-targets")
        for data in (
            {"channel": "sms", "target": "+8613700137000"},
            {"channel": "sms", "target": "+8613700137000", "csrf_token": "forged"},
        ):
            r = await web.http.post("/me/delivery-targets", data=data)
            assert r.status_code == 403, r.status_code
        assert "+8613700137000" not in (await web.http.get("/me/delivery-targets")).text
        r = await web.http.post(
            "/me/delivery-targets", data={"channel": "sms", "target": "+8613700137000", "csrf_token": token}
        )
        assert r.status_code == 303 and r.headers["location"] == "/me/delivery-targets?done=kept"
        r = await web.http.post("/me/delivery-targets/sms/forget", data={"csrf_token": "forged"})
        assert r.status_code == 403
        assert "+8613700137000" in (await web.http.get("/me/delivery-targets")).text
        r = await web.http.post(
            "/me/delivery-targets", data={"channel": "fax", "target": "1", "csrf_token": token}
        )
        assert r.status_code == 422

        r = await operator.http.post(
            "/login",
            data={
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "csrf_token": await operator.token(),
            },
        )
        assert r.status_code == 303, r.text
        assert (await operator.http.get("/me/delivery-targets")).status_code == 403
    finally:
        await web.close()
        await operator.close()
