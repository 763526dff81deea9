"""An operator in a real browser, against the real stack: imports a key file and follows its progress to
the per-row error report, refunds an order, works an exception-queue entry, and reads the sales chart."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import Page, expect
from quanyi_cli.stack import Stack

from tests.integration.browser.conftest import shot
from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    pay,
    place_order,
)

pytestmark = pytest.mark.integration

GOOD_ROWS = 300


async def _sign_in(page: Page) -> None:
    await page.goto("/login?next=/admin")
    await page.get_by_label("电子邮箱").fill(ADMIN_EMAIL)
    await page.get_by_label("密码").fill(ADMIN_PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await expect(page).to_have_url("/admin")
    await expect(page.get_by_role("heading", name="管理后台概览")).to_be_visible()


async def _queue_undelivered_order(http: httpx.AsyncClient, stack: Stack, sku_id: str) -> str:
    """A paid order nobody delivers (fulfillment is stopped), whose delivery deadline has passed: the orders
    service queues it for an operator. The caller starts fulfillment again."""
    stack.stop_one("fulfillment")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku_id)).json()
    assert (await pay(http, order)).status_code == 200
    order_id = str(order["order_id"])

    async def paid() -> bool:
        return await order_status(buyer, order_id) == "PAID"

    await eventually(paid, timeout=30)
    # The deadline is ten minutes after payment: move it to now, as if they had passed.
    async with await psycopg.AsyncConnection.connect(stack.config.database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "UPDATE orders.due_events SET due_at = now() - interval '1 second'"
            " WHERE kind = 'order.deliver' AND aggregate_id = %s",
            (order_id,),
        )
        assert cur.rowcount == 1
    adm = await admin(http)

    async def queued() -> bool:
        entries = (await adm.get("/v1/admin/ops/queue")).json()["items"]
        return any(e["order_id"] == order_id for e in entries)

    await eventually(queued, timeout=30)
    return order_id


async def test_an_operator_imports_keys_refunds_an_order_works_the_queue_and_reads_the_sales_chart(
    http: httpx.AsyncClient, stack: Stack, page: Page
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(3), name=f"Back office {uuid.uuid4().hex[:6]}")
    await _sign_in(page)

    # Import a key file: the job's page shows its progress live, then the outcome and every bad row.
    await page.get_by_role("link", name="卡密").click()
    rows = "".join(f"{code},{password}\n" for code, password in fresh_keys(GOOD_ROWS))
    bad = ",no-code-on-this-line\n"
    content = ("code,password\n" + rows[: len(rows) // 2] + bad + rows[len(rows) // 2 :] + bad).encode()
    await page.get_by_label("卡池 ID").first.fill(sku["pool_id"])
    await page.get_by_label("文件").set_input_files(
        {"name": "keys.csv", "mimeType": "text/csv", "buffer": content}
    )
    await page.get_by_label("出错时").select_option("valid_rows")
    await page.get_by_role("button", name="开始导入").click()
    await expect(page).to_have_url(re.compile(r"/admin/keys/jobs/[^/]+$"))
    await page.evaluate("window.__sameDocument = true")
    progress = page.get_by_role("progressbar")
    await expect(progress).to_be_visible()
    await expect(page.locator("[data-job-status]")).to_have_attribute("data-job-status", "done", timeout=60_000)
    await expect(progress).to_have_attribute("value", "100")
    assert await page.evaluate("window.__sameDocument === true"), "the job page reloaded"
    await expect(page.locator("[data-imported]")).to_have_text(str(GOOD_ROWS))
    bad_rows = page.locator("table.bad-rows tbody tr")
    await expect(bad_rows).to_have_count(2)
    await expect(bad_rows.first.locator("td").first).to_have_text(str(GOOD_ROWS // 2 + 2))

    # Export the pool's keys (no codes) from the keys page.
    await page.get_by_role("navigation", name="管理后台导航").get_by_role("link", name="卡密").click()
    await page.locator("#e-pool").fill(sku["pool_id"])
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="导出 CSV（不含卡密）").click()
    saved = await (await download_info.value).path()
    exported = (await asyncio.to_thread(Path(saved).read_text)).splitlines()
    assert exported[0].startswith("key_id,") and "code" not in exported[0].split(",")
    assert len(exported) == 1 + 3 + GOOD_ROWS

    # Refund a delivered order from its page.
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    assert (await pay(http, order)).status_code == 200
    order_id = str(order["order_id"])

    async def fulfilled() -> bool:
        return await order_status(buyer, order_id) == "FULFILLED"

    await eventually(fulfilled, timeout=30)
    await page.get_by_role("link", name="订单", exact=True).click()
    await page.get_by_label("订单号").fill(order_id)
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "FULFILLED")
    # The whole history across the services, each event indented under its cause.
    history = page.locator("ol.history")
    await expect(history).to_contain_text("OrderPlaced")
    await expect(history).to_contain_text("OrderFulfilled")
    reserved = history.locator('[data-service="inventory"][data-event="KeyReserved"]')
    await expect(reserved).to_have_count(1)
    await expect(reserved).not_to_have_class("depth-0")
    await expect(history.locator('[data-service="fulfillment"][data-event="KeyDelivered"]')).to_have_count(1)
    await expect(page.locator("[data-history-missing]")).to_have_count(0)
    # As of an instant before the order existed, there is nothing yet; "Now" brings the whole of it back.
    await page.get_by_label("截至（UTC）").fill("2020-01-01T00:00:00")
    await page.get_by_role("button", name="查看", exact=True).click()
    await expect(page.locator("[data-history-state]")).to_have_attribute("data-history-state", "unknown")
    await expect(history).to_contain_text("截至该时刻没有事件")
    await page.get_by_role("link", name="至今", exact=True).click()
    await expect(history).to_contain_text("OrderFulfilled")
    await page.get_by_label("原因").fill("买家申请退款")
    await page.get_by_role("button", name="退还未退部分").click()
    await expect(page.get_by_role("status")).to_contain_text("已发起退款")

    async def refunded() -> bool:
        return await order_status(buyer, order_id) == "REFUNDED"

    await eventually(refunded, timeout=30)
    await page.reload()
    await expect(page.locator("[data-order-status]")).to_have_attribute("data-order-status", "REFUNDED")

    # Work an exception-queue entry: a paid order nobody delivered, settled by hand with a note.
    try:
        queued_id = await _queue_undelivered_order(http, stack, sku["sku_id"])
        await page.get_by_role("link", name="异常队列").click()
        entry = page.locator(f"#q-{queued_id}")
        await expect(entry).to_contain_text("not delivered within")
        await entry.get_by_label("备注").fill("已人工补发")
        await entry.get_by_role("button", name="标记已人工处理").click()
        await expect(page.get_by_role("status").first).to_contain_text("已标记为人工处理完成")
        await expect(page.locator(f"#q-{queued_id}")).to_have_count(0)
        entries = (await adm.get("/v1/admin/ops/queue", params={"include_resolved": True})).json()["items"]
        (resolved,) = [e for e in entries if e["order_id"] == queued_id]
        assert resolved["status"] != "OPEN" and resolved["actor"].startswith("admin:")
    finally:
        if "fulfillment" not in stack.procs:
            stack.start_one("fulfillment")
            await asyncio.to_thread(stack.wait_ready, 90)

    # The overview charts the stock per SKU.
    await page.get_by_role("link", name="概览").click()
    await expect(page.locator("#stock-chart svg[role=img]")).to_be_visible()

    # Read the sales chart: today's sales, refunds and margin, as a chart and as a table.
    await page.get_by_role("link", name="财务").click()
    chart = page.locator("#sales-chart svg[role=img]")
    await expect(chart).to_be_visible()
    await expect(chart.locator("title")).to_have_text("每日销售、退款与毛利")
    await expect(chart.locator("polyline")).to_have_count(3)
    await page.locator("#sales-chart summary").click()
    today = datetime.now(UTC).date().isoformat()
    await expect(page.locator("#sales-chart table")).to_contain_text(today)
    await expect(page.get_by_role("heading", name="试算平衡表")).to_contain_text("借贷平衡")
    await shot(page, "operator-imports-refunds-queue-sales-chart")
