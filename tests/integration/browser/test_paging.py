"""The back office's lists and the buyer's user centre go a page at a time: next and previous links over the
services' keyset pages, with the keyboard; the URL carries the pages before, so "previous" shows exactly the
page seen before."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import shot
from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.harness import admin, create_sku_with_keys, fresh_keys, new_buyer, pay, place_order

pytestmark = pytest.mark.integration


async def _rows(page: Page) -> list[str]:
    return await page.locator("table.orders tbody tr[data-order]").evaluate_all(
        "rows => rows.map(r => r.dataset.order)"
    )


async def test_an_operator_pages_through_orders_forward_and_back_with_the_keyboard(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    # At least six orders exist (three pages of two; the suite's others come before, in any order).
    sku = await create_sku_with_keys(await admin(http), fresh_keys(6))
    for buyer in [await new_buyer(http) for _ in range(3)]:  # risk allows 5 a minute per buyer
        for _ in range(2):
            assert (await place_order(buyer, sku["sku_id"])).status_code in (200, 201)

    await page.goto("/login?next=/admin/orders?limit=2")
    await page.get_by_label("电子邮箱").fill(ADMIN_EMAIL)
    await page.get_by_label("密码").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await expect(page).to_have_url("/admin/orders?limit=2")
    first = await _rows(page)
    assert len(first) == 2
    pager = page.get_by_role("navigation", name="订单分页")
    await expect(pager.get_by_role("link", name="← 上一页")).to_have_count(0)
    await expect(pager).to_contain_text("第 1 页")

    # Next with the keyboard: two other, older orders.
    await pager.get_by_role("link", name="下一页 →").focus()
    await page.keyboard.press("Enter")
    await expect(pager).to_contain_text("第 2 页")
    second = await _rows(page)
    assert len(second) == 2 and not set(second) & set(first)
    await pager.get_by_role("link", name="下一页 →").click()
    await expect(pager).to_contain_text("第 3 页")
    third = await _rows(page)
    assert third and not set(third) & set(first + second)

    # And back, page by page, to exactly what was seen.
    await pager.get_by_role("link", name="← 上一页").focus()
    await page.keyboard.press("Enter")
    await expect(pager).to_contain_text("第 2 页")
    assert await _rows(page) == second
    await pager.get_by_role("link", name="← 上一页").click()
    await expect(pager).to_contain_text("第 1 页")
    assert await _rows(page) == first
    await expect(pager.get_by_role("link", name="← 上一页")).to_have_count(0)
    await shot(page, "operator-orders-paging")


async def test_the_keys_page_lists_its_batches_a_page_at_a_time(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1))
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30) as web:
        login = await web.get("/login")
        token = login.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        r = await web.post(
            "/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
        )
        assert r.status_code == 303
        r = await web.get(f"/admin/keys?pool_id={sku['pool_id']}")
        assert r.status_code == 200
        assert sku["pool_id"] in r.text and 'rel="next"' not in r.text  # one batch: one page
        r = await web.get("/admin/keys?page_token=forged-token")
        assert r.status_code in (200, 400), r.status_code  # a forged token is refused, never a 500


async def test_a_buyer_pages_through_the_user_centre_forward_and_back_with_the_keyboard(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    sku = await create_sku_with_keys(await admin(http), fresh_keys(3))
    name = f"centre-{uuid.uuid4().hex[:10]}"
    buyer = await new_buyer(http, name)
    orders = [(await place_order(buyer, sku["sku_id"])).json() for _ in range(3)]
    newest_first = [o["order_id"] for o in reversed(orders)]

    await page.goto("/login?next=/me?limit=2")
    await page.get_by_label("电子邮箱").fill(f"{name}@buyer.test")
    await page.get_by_label("密码").fill("buyer-password")
    await page.locator("form[action='/login'] button[type=submit]").click()
    await expect(page).to_have_url("/me?limit=2")
    pager = page.get_by_role("navigation", name="订单分页")
    await expect(pager).to_contain_text("第 1 页")
    assert await _sections(page) == newest_first[:2]

    await pager.get_by_role("link", name="下一页 →").focus()
    await page.keyboard.press("Enter")
    await expect(pager).to_contain_text("第 2 页")
    assert await _sections(page) == newest_first[2:]
    await expect(pager.get_by_role("link", name="下一页 →")).to_have_count(0)
    await pager.get_by_role("link", name="← 上一页").focus()
    await page.keyboard.press("Enter")
    await expect(pager).to_contain_text("第 1 页")
    assert await _sections(page) == newest_first[:2]
    await shot(page, "buyer-user-centre-paging")
    for order in orders:  # unpaid orders would hold stock for the suite's client address until they expire
        assert (await pay(http, order)).status_code == 200


async def _sections(page: Page) -> list[str]:
    ids: list[str] = await page.locator("section.panel[id^='order-']").evaluate_all(
        "sections => sections.map(s => s.id.slice('order-'.length))"
    )
    return ids
