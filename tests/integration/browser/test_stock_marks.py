"""The back office marks low stock by each SKU's own low-stock threshold (the one inventory raises StockLow
by), on the stock table and on the pools of the keys page; a SKU without one is never marked low."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import shot
from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.harness import Client, admin, fresh_keys

pytestmark = pytest.mark.integration


async def _sku(adm: Client, name: str, threshold: int, keys: int) -> tuple[str, str]:
    r = await adm.post("/v1/admin/products", json={"name": name, "kind": "card_key"})
    assert r.status_code == 201, r.text
    r = await adm.post(
        f"/v1/admin/products/{r.json()['product_id']}/skus",
        json={
            "name": name,
            "price": {"amount_minor": 1000, "currency": "CNY"},
            "low_stock_threshold": threshold,
        },
    )
    assert r.status_code == 201, r.text
    sku_id = str(r.json()["sku_id"])
    r = await adm.post(f"/v1/admin/skus/{sku_id}/pools", json={"name": "main"})
    assert r.status_code == 201, r.text
    pool_id = str(r.json()["pool_id"])
    csv_text = "code,password\n" + "".join(f"{c},{p}\n" for c, p in fresh_keys(keys))
    r = await adm.post(
        f"/v1/admin/pools/{pool_id}/imports",
        files={"file": ("keys.csv", csv_text.encode(), "text/csv")},
        data={"unit_cost_minor": "500", "currency": "CNY"},
    )
    assert r.status_code in (200, 201), r.text
    return sku_id, pool_id


async def _sign_in_to_the_catalogue(page: Page) -> None:
    await page.goto("/login?next=/admin/catalogue")
    await page.get_by_label("电子邮箱").fill(ADMIN_EMAIL)
    await page.get_by_label("密码").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await expect(page).to_have_url("/admin/catalogue")


async def test_low_stock_is_marked_by_each_skus_own_threshold(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    adm = await admin(http)
    tag = uuid.uuid4().hex[:6]
    # 12 keys, low at 20: low. 2 keys, low at 1: not low (a fixed mark of 10 called it low). 3 keys, no
    # threshold: never low.
    low_id, low_pool = await _sku(adm, f"Low {tag}", 20, 12)
    fine_id, fine_pool = await _sku(adm, f"Fine {tag}", 1, 2)
    never_id, _ = await _sku(adm, f"Never {tag}", 0, 3)

    await _sign_in_to_the_catalogue(page)

    low = page.locator(f'tr[data-sku="{low_id}"]')
    await expect(low).to_have_class("low")
    await expect(low.locator(".badge")).to_have_text("库存低")
    await expect(low.locator('td[data-label="低库存线"]')).to_have_text("20")
    fine = page.locator(f'tr[data-sku="{fine_id}"]')
    await expect(fine.locator(".badge")).to_have_count(0)
    await expect(fine.locator('td[data-label="低库存线"]')).to_have_text("1")
    never = page.locator(f'tr[data-sku="{never_id}"]')
    await expect(never.locator(".badge")).to_have_count(0)
    await expect(never.locator('td[data-label="低库存线"]')).to_have_text("—")

    # The keys page marks each pool by its SKU's threshold too.
    await page.goto("/admin/keys")
    pool_row = page.locator("table.pools tr").filter(has=page.locator(f'code:text-is("{low_pool}")'))
    await expect(pool_row.locator(".badge")).to_have_text("库存低")
    fine_row = page.locator("table.pools tr").filter(has=page.locator(f'code:text-is("{fine_pool}")'))
    await expect(fine_row.locator(".badge")).to_have_count(0)
    await page.goto("/admin/catalogue")
    await page.locator(f'tr[data-sku="{low_id}"]').scroll_into_view_if_needed()
    await shot(page, "operator-low-stock-per-sku")


async def test_an_operator_reads_a_skus_burn_down_and_sets_its_threshold_from_its_page(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    adm = await admin(http)
    name = f"Burn {uuid.uuid4().hex[:6]}"
    sku_id, _ = await _sku(adm, name, 0, 5)

    await _sign_in_to_the_catalogue(page)
    row = page.locator(f'tr[data-sku="{sku_id}"]')
    await expect(row.locator(".badge")).to_have_count(0)
    # The stock table links the SKU's page: its burn-down over 30 UTC days, today's 5 keys at the end.
    await row.get_by_role("link", name=name).click()
    await expect(page).to_have_url(f"/admin/catalogue/skus/{sku_id}")
    chart = page.locator("#burn-down svg[role=img]")
    await expect(chart).to_be_visible()
    await expect(chart.locator("title")).to_have_text("库存消耗：每个 UTC 日结束时的可用卡密")
    await expect(chart.locator("polyline")).to_have_count(1)  # no threshold yet: no second line
    history = (await adm.get(f"/v1/admin/skus/{sku_id}/stock-history?days=30")).json()
    assert len(history["days"]) == 30 and history["days"][-1]["available"] == 5

    # The threshold, set with the keyboard: the page says so, marks the SKU low and draws the line.
    field = page.get_by_label("低库存提醒阈值", exact=True)
    await field.fill("8")
    await field.press("Enter")
    await expect(page).to_have_url(f"/admin/catalogue/skus/{sku_id}?done=threshold")
    await expect(page.get_by_role("status")).to_contain_text("低库存阈值已保存")
    await expect(page.locator("#sku-threshold")).to_have_text("8")
    await expect(page.locator("#sku-facts .badge")).to_have_text("库存低")
    await expect(page.locator("#burn-down svg polyline")).to_have_count(2)
    await page.locator("#burn-down").scroll_into_view_if_needed()
    await shot(page, "operator-sku-burn-down-threshold")

    # The stock table's marks follow the new threshold.
    await page.goto("/admin/catalogue")
    await expect(row).to_have_class("low")
    await expect(row.locator('td[data-label="低库存线"]')).to_have_text("8")
