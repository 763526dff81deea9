"""Money taken, key delivered, or money back: payment notices of the WeChat Pay v3 and Alipay style
simulators, duplicates, lost callbacks, late payments, payments the order cannot take, and refunds
confirmed by the provider. After each scenario every paid order is delivered or refunded (I2)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration import checks
from tests.integration.conftest import PAYMENT_TTL_S, RISK_LIMIT
from tests.integration.harness import (
    Client,
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    place_order,
)

pytestmark = pytest.mark.integration

_admin_token: list[str] = []


async def operator(http: httpx.AsyncClient) -> Client:
    """The admin, signed in once for the module (sign-ins per account are rate-limited)."""
    if not _admin_token:
        _admin_token.append((await admin(http)).token)
    return Client(http, _admin_token[0])


async def pay_with(
    http: httpx.AsyncClient, order: dict[str, Any], provider: str, amount_minor: int | None = None,
    deliver: bool = True,
) -> dict[str, Any]:
    amount = order["total"]["amount_minor"] if amount_minor is None else amount_minor
    r = await http.post("/psp-sim/v1/pay", json={
        "order_id": order["order_id"], "provider": provider, "deliver": deliver,
        "amount": {"amount_minor": amount, "currency": order["total"]["currency"]},
    })
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    if deliver:
        assert answer["webhook_status"] == 200, answer
    return answer


async def events_of(url: str, order_id: str, kind: str) -> int:
    n = await checks.scalar(
        url, "SELECT count(*) FROM orders.events WHERE aggregate_id = %s AND event_type LIKE %s",
        (order_id, f"%.{kind}"),
    )
    return int(n)


async def refunds_of(url: str, order_id: str) -> list[tuple[str, int, str]]:
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT reason, amount_minor, status FROM orders.refunds WHERE order_id = %s ORDER BY requested_at",
            (order_id,),
        )
        return [(r[0], int(r[1]), r[2]) for r in await cur.fetchall()]


async def is_status(buyer: Client, order_id: str, *statuses: str) -> bool:
    return await order_status(buyer, order_id) in statuses


async def paid_orders_accounted_for(url: str) -> dict[str, int]:
    """I2: every order that took a payment ends delivered, refunded, or in the exception queue (or waits on
    a reviewer), counted and printed once nothing is in flight. Returns the counts by status."""
    from psycopg import AsyncConnection

    async def settled() -> dict[str, int] | None:
        async with await AsyncConnection.connect(url) as conn:
            cur = await conn.execute(
                "SELECT CASE WHEN o.status = 'PAID' AND q.order_id IS NOT NULL THEN 'QUEUED' ELSE o.status END,"
                " count(*) FROM orders.orders o LEFT JOIN orders.exception_queue q"
                " ON q.order_id = o.order_id AND q.resolution IS NULL"
                " WHERE o.captured_txn_id IS NOT NULL GROUP BY 1"
            )
            counts = {r[0]: int(r[1]) for r in await cur.fetchall()}
            cur = await conn.execute(
                "SELECT count(*) FROM orders.refunds WHERE status NOT IN ('SUCCEEDED', 'DECLINED')"
            )
            open_refunds = (await cur.fetchone() or [0])[0]
        # PAID means released and still being delivered; CAPTURED/UNDER_REVIEW wait for risk or a reviewer.
        if counts.get("PAID") or counts.get("CAPTURED") or open_refunds:
            return None
        return counts

    counts: dict[str, int] = await eventually(settled, timeout=60)
    print(f"I2: orders that took a payment, by status: {counts}")
    assert set(counts) <= {"FULFILLED", "REFUNDED", "QUEUED", "UNDER_REVIEW"}, counts
    return counts


async def test_the_same_notice_ten_times_at_once_pays_once_and_delivers_one_key(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(3), name="Tencent Video")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    r = await http.post("/psp-sim/v1/notices", json={
        "order_id": order["order_id"], "provider": "wechatpay-sim",
        "amount": {"amount_minor": order["total"]["amount_minor"], "currency": "CNY"},
    })
    assert r.status_code == 200, r.text
    signed = r.json()
    assert set(signed["headers"]) >= {"Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce",
                                      "Wechatpay-Serial"}
    assert "ciphertext" in signed["body"] and order["order_id"] not in signed["body"]  # the resource is sealed

    replies = await asyncio.gather(*(
        http.post("/v1/payments/wechatpay-sim/notify", content=signed["body"].encode(), headers=signed["headers"])
        for _ in range(10)
    ))
    assert [r.status_code for r in replies] == [200] * 10, [r.text for r in replies]
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    assert await events_of(url, order["order_id"], "OrderPaid") == 1
    assert await events_of(url, order["order_id"], "PaymentCaptured") == 1
    keys = await checks.scalar(
        url, "SELECT count(*) FROM inventory.keys WHERE order_id = %s", (order["order_id"],)
    )
    assert keys == 1
    await paid_orders_accounted_for(url)


async def test_a_lost_callback_is_completed_by_the_active_query_of_either_provider(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(2), name="Mango TV")
    buyer = await new_buyer(http)
    for provider in ("wechatpay-sim", "alipay-sim"):
        order = (await place_order(buyer, sku["sku_id"])).json()
        await pay_with(http, order, provider, deliver=False)  # the provider took the money; no notice came
        order_id = order["order_id"]
        await eventually(lambda: is_status(buyer, order_id, "FULFILLED"), timeout=60)  # noqa: B023
        assert await events_of(url, order_id, "PaymentCaptured") == 1
    await paid_orders_accounted_for(url)


async def test_an_alipay_notice_pays_the_order(http: httpx.AsyncClient, stack: Stack) -> None:
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), name="Bilibili")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    await pay_with(http, order, "alipay-sim")
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    await paid_orders_accounted_for(stack.config.database_url)


async def test_a_wrong_amount_is_recorded_and_refunded_and_the_order_can_still_be_paid(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), name="Migu")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    total = order["total"]["amount_minor"]
    await pay_with(http, order, "wechatpay-sim", amount_minor=total - 1)

    async def refunded() -> bool:
        return await refunds_of(url, order["order_id"]) == [("AMOUNT_MISMATCH", total - 1, "SUCCEEDED")]

    await eventually(refunded)
    assert await order_status(buyer, order["order_id"]) == "PENDING_PAYMENT"
    assert await events_of(url, order["order_id"], "RefundSucceeded") == 1
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    await paid_orders_accounted_for(url)


async def test_a_payment_for_a_cancelled_order_is_recorded_and_refunded(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    # A key for each order: an unpaid order holds its unit, so a second order of one key would be refused.
    sku = await create_sku_with_keys(adm, fresh_keys(RISK_LIMIT + 1), name="Sohu Video")
    buyer = await new_buyer(http)
    orders = [(await place_order(buyer, sku["sku_id"])).json() for _ in range(RISK_LIMIT + 1)]

    async def held() -> str | None:
        for o in orders:
            if await order_status(buyer, o["order_id"]) == "UNDER_REVIEW":
                return str(o["order_id"])
        return None

    held_id = await eventually(held)
    r = await adm.post(f"/v1/admin/orders/{held_id}/review", json={"approve": False})
    assert r.status_code == 200, r.text
    assert await order_status(buyer, held_id) == "CANCELLED"
    cancelled = next(o for o in orders if o["order_id"] == held_id)
    await pay_with(http, cancelled, "wechatpay-sim")

    async def refunded() -> bool:
        return await refunds_of(url, held_id) == [
            ("ORDER_NOT_PAYABLE", cancelled["total"]["amount_minor"], "SUCCEEDED")
        ]

    await eventually(refunded)
    assert await order_status(buyer, held_id) == "CANCELLED"
    await paid_orders_accounted_for(url)


async def test_an_unpaid_order_expires_and_a_late_payment_still_completes_it(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), name="PPTV")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    await eventually(lambda: is_status(buyer, order["order_id"], "EXPIRED"), timeout=PAYMENT_TTL_S + 30)
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    await paid_orders_accounted_for(stack.config.database_url)


async def refunds_detail(url: str, order_id: str) -> list[tuple[str, int, str, str, list[Any]]]:
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT reason, amount_minor, status, actor, lines FROM orders.refunds WHERE order_id = %s"
            " ORDER BY requested_at",
            (order_id,),
        )
        return [(r[0], int(r[1]), r[2], r[3], r[4]) for r in await cur.fetchall()]


async def test_partial_then_full_refunds_of_delivered_keys_void_them_and_a_redeemed_one_needs_the_override(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    from tests.integration.harness import redeem

    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(3), price_minor=1000, name="Kugou")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"], quantity=3)).json()
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    r = await buyer.get("/v1/me/keys", params={"order_id": order["order_id"]})
    assert r.status_code == 200, r.text
    codes = [k["code"] for k in r.json()["items"]]
    assert len(codes) == 3
    r = await redeem(http, codes[0])
    assert r.status_code == 200, r.text
    # Inventory hears of the redemption from fulfillment's topic and of the refunds from orders': a refund
    # it hears of first takes the key as delivered (voids it). The refunds below are about a redemption
    # already known, so they wait for inventory to know it.
    await eventually(lambda: keys_in_state(url, order["order_id"], "redeemed", 1))

    # One unit: a delivered key not redeemed is voided; the order stays fulfilled.
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/refunds",
                       json={"lines": [{"line_no": 1, "quantity": 1}], "reason": "wrong region"})
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == {"amount_minor": 1000, "currency": "CNY"}

    async def settled(n: int) -> list[Any] | None:
        rows = await refunds_detail(url, order["order_id"])
        return rows if len(rows) == n and all(row[2] == "SUCCEEDED" for row in rows) else None

    (first,) = await eventually(lambda: settled(1))
    assert first[:3] == ("OPERATOR", 1000, "SUCCEEDED") and first[3]  # the operator is on record
    assert [(ln["quantity"], ln["voided"], ln["redeemed"]) for ln in first[4]] == [(1, 1, 0)]
    assert await order_status(buyer, order["order_id"]) == "FULFILLED"

    # The rest holds a redeemed key: refused without the override, refunded with it.
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/refunds", json={})
    assert r.status_code == 409, r.text
    assert "override" in r.json()["detail"]
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/refunds",
                       json={"override_redeemed": True, "reason": "partner confirmed the top-up failed"})
    assert r.status_code == 201, r.text
    assert r.json()["amount"]["amount_minor"] == 2000
    rows = await eventually(lambda: settled(2))
    assert [(ln["quantity"], ln["voided"], ln["redeemed"]) for ln in rows[1][4]] == [(2, 1, 1)]
    assert await order_status(buyer, order["order_id"]) == "REFUNDED"
    assert await events_of(url, order["order_id"], "RefundSucceeded") == 2
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/refunds", json={})
    assert r.status_code == 409, r.text  # nothing left to refund
    # Inventory took the keys back before each refund went out: the delivered ones are recycled (never sold
    # again), the redeemed one stays redeemed under the audited override.
    assert await inventory_keys(url, order["order_id"]) == (["recycled", "recycled", "redeemed"], [
        ("settled", 0, 1, 0, False), ("settled", 0, 1, 1, True)])
    await paid_orders_accounted_for(url)


async def keys_in_state(url: str, order_id: str, state: str, n: int) -> bool:
    found = await checks.scalar(
        url, "SELECT count(*) FROM inventory.keys WHERE order_id = %s AND state = %s", (order_id, state)
    )
    return bool(found == n)


async def inventory_keys(url: str, order_id: str) -> tuple[list[str], list[tuple[str, int, int, int, bool]]]:
    """The states of the keys refunds took from the order (by refund_id) or it still holds, and inventory's
    answer to each refund (outcome, released, voided, redeemed, override)."""
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT s.outcome, s.released, s.voided, s.redeemed, s.override_redeemed, s.refund_id"
            " FROM inventory.refund_settlements s WHERE s.order_id = %s ORDER BY s.settled_at", (order_id,)
        )
        settled = await cur.fetchall()
        cur = await conn.execute(
            "SELECT state FROM inventory.keys WHERE order_id = %s OR refund_id = ANY(%s) ORDER BY state",
            (order_id, [r[5] for r in settled]),
        )
        states = [r[0] for r in await cur.fetchall()]
    return states, [(r[0], r[1], r[2], r[3], r[4]) for r in settled]


async def test_an_operator_confirms_a_payment_whose_notice_was_lost(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), name="NetEase Music")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/confirm-payment", json={})
    assert r.status_code == 200, r.text
    assert r.json()["paid"] is False
    await pay_with(http, order, "alipay-sim", deliver=False)
    r = await adm.post(f"/v1/admin/orders/{order['order_id']}/confirm-payment", json={"provider": "alipay-sim"})
    assert r.status_code == 200, r.text
    assert r.json()["paid"] is True  # found by the operator or, just before, by the poller: recorded once
    await eventually(lambda: is_status(buyer, order["order_id"], "FULFILLED"))
    assert await events_of(stack.config.database_url, order["order_id"], "PaymentCaptured") == 1
    await paid_orders_accounted_for(stack.config.database_url)


async def test_the_exception_queue_is_listed_by_the_admin_api_and_the_cli_and_refuses_orders_not_in_it(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    adm = await operator(http)
    r = await adm.get("/v1/admin/ops/queue", params={"include_resolved": True})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["items"], list)
    sku = await create_sku_with_keys(adm, fresh_keys(1), name="Douyin")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    r = await adm.post(f"/v1/admin/ops/queue/{order['order_id']}", json={"action": "resolve", "note": "x"})
    assert r.status_code == 409, r.text
    assert "not in the exception queue" in r.json()["detail"]
    listed = (await adm.get("/v1/admin/ops/queue", params={"include_resolved": True})).json()["items"]
    env = {**os.environ, "QUANYI_GATEWAY_URL": stack.config.gateway_url, "QUANYI_ADMIN_TOKEN": adm.token}
    quanyi = str(Path(sys.executable).parent / "quanyi")
    done = await asyncio.to_thread(
        subprocess.run, [quanyi, "ops", "queue", "--all", "--json"], env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [e["order_id"] for e in json.loads(done.stdout)] == [e["order_id"] for e in listed]
