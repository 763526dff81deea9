"""A buyer in a real browser: signs up, buys, sees the key appear on the order page without a reload,
reveals it (audited) and copies it; the user centre lists it."""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import ARTIFACTS, shot
from tests.integration.checks import scalar
from tests.integration.harness import admin, create_sku_with_keys, fresh_keys

pytestmark = pytest.mark.integration


async def test_a_buyer_signs_up_buys_sees_the_key_appear_and_reveals_it(
    http: httpx.AsyncClient, stack: Stack, context: BrowserContext, page: Page
) -> None:
    adm = await admin(http)
    keys = fresh_keys(1)
    name = f"Web VIP {uuid.uuid4().hex[:8]}"
    await create_sku_with_keys(adm, keys, name=name)
    await context.grant_permissions(["clipboard-read", "clipboard-write"])

    # The storefront speaks Simplified Chinese by default; buying asks for an account first.
    await page.goto("/")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name=f"{name} month"))
    await expect(card.locator("[data-stock-for]")).to_have_text("库存 1")
    await card.get_by_role("button", name="登录后购买").click()
    await expect(page).to_have_url("/login?next=/")
    await page.get_by_role("link", name="注册").last.click()

    email = f"web-{uuid.uuid4().hex[:10]}@buyer.test"
    await page.get_by_label("电子邮箱").fill(email)
    await page.get_by_label("密码").fill("buyer-password")
    await page.get_by_role("button", name="创建账户").click()
    await expect(page.locator(".who")).to_have_text(email)

    # A second tab stays on the catalogue: its stock follows the sale without a reload.
    shelf = await context.new_page()
    await shelf.goto("/")
    shelf_card = shelf.locator("li.card").filter(has=shelf.get_by_role("heading", name=f"{name} month"))
    await expect(shelf_card.locator("[data-stock-for]")).to_have_text("库存 1")

    # Checkout: the order page, then the payment simulator (development) pays it.
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name=f"{name} month"))
    await card.get_by_role("button", name="立即购买").click()
    await expect(page).to_have_url(re.compile(r"/orders/[^/?]+$"))
    order_id = page.url.rsplit("/", 1)[-1]
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "PENDING_PAYMENT")
    await page.get_by_role("button", name="用模拟支付付款").click()
    await page.wait_for_url(f"**/orders/{order_id}")

    # The key appears without a reload: a value put on the page survives until it does.
    await page.evaluate("window.__sameDocument = true")
    started = time.monotonic()
    row = page.locator("table.keys tbody tr")
    await expect(row).to_have_count(1, timeout=20_000)
    appeared_s = time.monotonic() - started
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "FULFILLED")
    assert await page.evaluate("window.__sameDocument === true"), "the order page reloaded"
    assert appeared_s < 10, appeared_s
    await expect(row.locator('td[data-label="有效期"]')).to_have_text("长期有效")
    _record_timing("paid_to_key_on_page_s", appeared_s)
    await expect(shelf_card.locator("[data-stock-for]")).to_have_text("已售罄", timeout=10_000)
    await expect(shelf_card.get_by_role("button")).to_be_disabled()
    await shelf.close()

    # Reveal on click: the plaintext was nowhere on the page before; inventory audits the reveal.
    code, password = keys[0]
    assert code not in await page.content()
    audits_before = await _reveal_audits(stack, order_id)
    await row.get_by_role("button", name="查看卡密").click()
    await expect(row.locator("code.secret").first).to_have_text(code)
    await expect(row.locator("code.secret").nth(1)).to_have_text(password)
    assert await _reveal_audits(stack, order_id) == audits_before + 1

    # Copy with one click.
    await row.get_by_role("button", name="复制").first.click()
    await expect(row.get_by_role("status").filter(has_text="已复制")).to_have_count(1)
    assert await page.evaluate("navigator.clipboard.readText()") == code

    # The user centre lists the order with its delivered key.
    await page.get_by_role("link", name="用户中心", exact=True).click()
    section = page.locator(f"#order-{order_id}")
    await expect(section.locator(".badge").first).to_have_text("已发货")
    await expect(section.locator("table.keys tbody tr")).to_have_count(1)
    await expect(section.get_by_role("button", name="查看卡密")).to_be_visible()
    await shot(page, "buyer-signs-up-buys-reveals")


def _record_timing(name: str, seconds: float) -> None:
    """Keep a measured time beside the screenshots (.artifacts/browser/timings.jsonl)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "timings.jsonl").open("a") as out:
        out.write(json.dumps({"metric": name, "seconds": round(seconds, 3), "at": time.time()}) + "\n")


async def _reveal_audits(stack: Stack, order_id: str) -> int:
    return int(await scalar(
        stack.config.database_url,
        "SELECT count(*) FROM inventory.key_reveals WHERE order_id = %s AND purpose = 'user-center'",
        (order_id,),
    ))
