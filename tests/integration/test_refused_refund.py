"""A refund whose key inventory refuses, end to end with the services as processes: a delivered key is
redeemed at the partner, an operator's refund reaches inventory without the override (fulfillment, which
would have told orders of the redemption, does not answer in time: inventory's record decides), inventory
refuses it, and the order waits in the exception queue with the reason — the money is not sent and the
ledger does not reverse the sale. The operator's audited override from the queue then refunds it: inventory
records the override, the refund goes to the PSP simulator and is confirmed, and the ledger posts the
reversal and the payment of the refund.

The other side of that race: the refund reaches inventory first and voids a key whose redemption the
partner reports later (dated before the refund). Inventory records RefundedKeyRedeemed, and orders puts the
refunded order in the exception queue (source redeemed_after_refund) naming the key by id, its SKU, the
refund and the partner, until an operator resolves it with a note."""

from __future__ import annotations

import json
import os
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration import checks
from tests.integration.browser.test_web_http import Browser
from tests.integration.harness import (
    PARTNER,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    partner_headers,
    place_order,
    redeem,
)
from tests.integration.test_payment_saga import (
    events_of,
    inventory_keys,
    is_status,
    operator,
    paid_orders_accounted_for,
    pay_with,
    refunds_detail,
)

pytestmark = pytest.mark.integration


async def ledger_kinds(url: str, order_id: str) -> list[str]:
    from psycopg import AsyncConnection

    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT kind FROM ledger.journal_entries WHERE correlation_id = %s ORDER BY seq", (order_id,)
        )
        return [r[0] for r in await cur.fetchall()]


async def test_a_refund_inventory_refuses_waits_in_the_queue_unsent_until_the_operators_override_refunds_it(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=2500, name="iQiyi race")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    order_id = order["order_id"]
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order_id, "FULFILLED"))
    [key] = (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]
    r = await redeem(http, key["code"])
    assert r.status_code == 200, r.text

    async def redeemed_in_inventory() -> bool:
        states, _ = await inventory_keys(url, order_id)
        return states == ["redeemed"]

    await eventually(redeemed_in_inventory)

    # The race: orders cannot hear of the redemption from fulfillment (stopped for the moment), so the
    # refund goes to inventory without the override; inventory's record has the key redeemed.
    fulfillment = stack.procs["fulfillment"]
    os.kill(fulfillment.pid, signal.SIGSTOP)
    try:
        r = await adm.post(f"/v1/admin/orders/{order_id}/refunds", json={"reason": "buyer says it never worked"})
    finally:
        os.kill(fulfillment.pid, signal.SIGCONT)
    assert r.status_code == 201, r.text
    first = r.json()["refund_id"]

    async def queued() -> dict[str, str] | None:
        entries = (await adm.get("/v1/admin/ops/queue")).json()["items"]
        return next((e for e in entries if e["order_id"] == order_id), None)

    entry = await eventually(queued)
    assert (entry["source"], entry["status"]) == ("refund", "OPEN")
    assert first in entry["reason"] and "redeemed" in entry["reason"]
    [row] = await refunds_detail(url, order_id)
    assert row[:3] == ("OPERATOR", 2500, "REQUESTED")
    assert await events_of(url, order_id, "RefundSent") == 0  # the money was not sent
    assert await order_status(buyer, order_id) == "FULFILLED"
    assert {"refund", "refund_paid"}.isdisjoint(await ledger_kinds(url, order_id))  # nor the sale reversed
    _, settlements = await inventory_keys(url, order_id)
    assert [s[0] for s in settlements] == ["refused"]

    # An override needs a note; with one, the same units are refunded despite the redemption.
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}", json={"action": "override"})
    assert r.status_code in (400, 422), r.text
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}",
                       json={"action": "override", "note": "the partner confirmed the top-up failed"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["entry"]["status"], answer["entry"]["resolution"]) == ("RESOLVED", "override")
    second = answer["refund_id"]
    assert second and second != first

    async def refunded() -> list[tuple[str, int, str, str, list[object]]] | None:
        rows = await refunds_detail(url, order_id)
        return rows if [r[2] for r in rows] == ["DECLINED", "SUCCEEDED"] else None

    rows = await eventually(refunded, timeout=60)
    assert rows[1][:2] == ("OPERATOR", 2500)
    assert await order_status(buyer, order_id) == "REFUNDED"
    assert await events_of(url, order_id, "RefundSucceeded") == 1
    assert await events_of(url, order_id, "OrderRefunded") == 1
    # Inventory recorded the override (who and why) and left the key redeemed.
    states, settlements = await inventory_keys(url, order_id)
    assert states == ["redeemed"]
    assert [(s[0], s[3], s[4]) for s in settlements] == [("refused", 0, False), ("settled", 1, True)]

    async def reversed_and_paid() -> list[str] | None:
        kinds = await ledger_kinds(url, order_id)
        return kinds if kinds.count("refund") == 1 and kinds.count("refund_paid") == 1 else None

    await eventually(reversed_and_paid, timeout=60)
    balance = await checks.scalar(
        url, "SELECT coalesce(sum(l.credit_minor - l.debit_minor), 0) FROM ledger.journal_lines l"
        " JOIN ledger.journal_entries e ON e.seq = l.entry_seq"
        " WHERE e.correlation_id = %s AND l.account = 'payables:refunds'", (order_id,)
    )
    assert balance == 0  # what the reversal owed the buyer, the provider paid
    await paid_orders_accounted_for(url)


async def test_a_buyers_refund_request_that_the_operator_declines_shows_declined_in_v1_me_and_the_user_centre(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=1800, name="iQiyi declined")
    name = f"decl-{uuid.uuid4().hex[:8]}"
    buyer = await new_buyer(http, name)
    order = (await place_order(buyer, sku["sku_id"])).json()
    order_id = order["order_id"]
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order_id, "FULFILLED"))
    [key] = (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]
    assert (await redeem(http, key["code"])).status_code == 200

    async def redeemed_in_inventory() -> bool:
        states, _ = await inventory_keys(url, order_id)
        return states == ["redeemed"]

    await eventually(redeemed_in_inventory)
    r = await buyer.post(f"/v1/me/orders/{order_id}/refund-requests", json={"reason": "not_working"})
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "requested"

    async def state() -> str:
        mine = (await buyer.get("/v1/me/refund-requests")).json()["items"]
        [(found, standing)] = [(m["order_id"], m["state"]) for m in mine]
        assert found == order_id
        return str(standing)

    assert await state() == "requested"
    # The operator refunds while orders cannot hear of the redemption (fulfillment stopped): inventory refuses.
    fulfillment = stack.procs["fulfillment"]
    os.kill(fulfillment.pid, signal.SIGSTOP)
    try:
        r = await adm.post(f"/v1/admin/orders/{order_id}/refunds", json={"reason": "buyer asked"})
    finally:
        os.kill(fulfillment.pid, signal.SIGCONT)
    assert r.status_code == 201, r.text

    async def queued() -> bool:
        entries = (await adm.get("/v1/admin/ops/queue")).json()["items"]
        return any(e["order_id"] == order_id for e in entries)

    await eventually(queued)
    assert await state() == "processing"  # inventory refused; an operator decides

    note = "internal: key redeemed by the buyer at 03:12 per partner log"
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}", json={"action": "decline", "note": note})
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["resolution"] == "decline"

    assert await state() == "declined"
    again = await buyer.post(f"/v1/me/orders/{order_id}/refund-requests", json={"reason": "other"})
    assert again.status_code == 200 and again.json()["state"] == "declined"
    order_json = (await buyer.get(f"/v1/orders/{order_id}")).text
    assert "partner log" not in order_json and "partner log" not in again.text  # the note stays inside
    assert await order_status(buyer, order_id) == "FULFILLED"
    assert await events_of(url, order_id, "RefundSent") == 0
    assert {"refund", "refund_paid"}.isdisjoint(await ledger_kinds(url, order_id))

    # The user centre (zh-CN by default) and the order page say it was declined, never the note.
    web = Browser(stack)
    try:
        r = await web.http.post("/login", data={
            "email": f"{name}@buyer.test", "password": "buyer-password", "csrf_token": await web.token("/login"),
        })
        assert r.status_code == 303, r.text
        me = (await web.http.get("/me")).text
        assert 'data-refund-state="declined"' in me and "退款申请未通过" in me and "partner log" not in me
        page = (await web.http.get(f"/orders/{order_id}")).text
        assert 'data-refund-state="declined"' in page and "未获通过" in page and "partner log" not in page
        r = await web.http.post("/lang", data={"lang": "en", "next": "/me", "csrf_token": await web.token("/me")})
        assert r.status_code == 303, r.text
        en = (await web.http.get("/me")).text
        assert 'data-refund-state="declined"' in en and "Refund declined" in en
    finally:
        await web.close()


async def test_a_redemption_reported_after_the_refund_that_voided_its_key_waits_in_the_queue_until_resolved(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await operator(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=3000, name="Youku late report")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    order_id = order["order_id"]
    await pay_with(http, order, "wechatpay-sim")
    await eventually(lambda: is_status(buyer, order_id, "FULFILLED"))
    [key] = (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]
    used_at = datetime.now(UTC)  # the buyer tops up at the partner now; the partner reports it later

    # The refund, knowing of no redemption, takes the key back as delivered: inventory voids it.
    r = await adm.post(f"/v1/admin/orders/{order_id}/refunds", json={"reason": "buyer says it never arrived"})
    assert r.status_code == 201, r.text
    refund_id = r.json()["refund_id"]

    async def refunded() -> bool:
        rows = await refunds_detail(url, order_id)
        return [row[2] for row in rows] == ["SUCCEEDED"] and await order_status(buyer, order_id) == "REFUNDED"

    await eventually(refunded, timeout=60)
    assert await inventory_keys(url, order_id) == (["recycled"], [("settled", 0, 1, 0, False)])

    # The partner's report of the earlier redemption arrives now.
    body = json.dumps({"code": key["code"], "redeemed_at": used_at.isoformat()}).encode()
    r = await http.post(f"/v1/partners/{PARTNER}/redemptions", content=body, headers=partner_headers(body))
    assert r.status_code == 200, r.text
    key_id = r.json()["key_id"]

    async def queued() -> dict[str, Any] | None:
        entries = (await adm.get("/v1/admin/ops/queue")).json()["items"]
        return next((e for e in entries if e["order_id"] == order_id), None)

    entry = await eventually(queued, timeout=60)
    assert (entry["source"], entry["status"]) == ("redeemed_after_refund", "OPEN")
    for fact in (key_id, sku["sku_id"], refund_id, PARTNER, used_at.isoformat()):
        assert fact in entry["reason"], (fact, entry["reason"])
    assert key["code"] not in json.dumps(entry)
    # Reported again (the partner retries): a duplicate, recorded nowhere twice.
    r = await http.post(f"/v1/partners/{PARTNER}/redemptions", content=body, headers=partner_headers(body))
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    # Inventory: one RefundedKeyRedeemed; the key stays recycled and is counted once.
    late = await checks.scalar(
        url, "SELECT count(*) FROM inventory.events WHERE aggregate_id = %s AND event_type LIKE %s",
        (order_id, "%.RefundedKeyRedeemed"),
    )
    assert late == 1
    assert await inventory_keys(url, order_id) == (["recycled"], [("settled", 0, 1, 0, False)])
    counts = await checks.scalar(
        url, "SELECT row(recycled, redeemed, delivered)::text FROM inventory.sku_stock WHERE sku_id = %s",
        (sku["sku_id"],),
    )
    assert counts == "(1,0,0)"
    # The key's history across the services shows it.
    r = await adm.get(f"/v1/admin/keys/{key_id}/history")
    assert r.status_code == 200, r.text
    assert "RefundedKeyRedeemed" in [step["event"] for step in r.json()["chain"]]
    assert await order_status(buyer, order_id) == "REFUNDED"

    # Only a resolution with a note closes it.
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}", json={"action": "refund"})
    assert r.status_code == 409, r.text
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}", json={"action": "resolve"})
    assert r.status_code in (400, 422), r.text
    r = await adm.post(f"/v1/admin/ops/queue/{order_id}",
                       json={"action": "resolve", "note": "partner confirmed the top-up; charged back"})
    assert r.status_code == 200, r.text
    assert (r.json()["entry"]["status"], r.json()["entry"]["resolution"]) == ("RESOLVED", "resolve")
    assert await queued() is None
    await paid_orders_accounted_for(url)
