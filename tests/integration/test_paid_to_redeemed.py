"""The whole path over HTTP with all six services running, then invariants I1, I3 and I5."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection
from quanyi.common.v1 import envelope_pb2
from quanyi.orders.v1 import events_pb2
from quanyi_cli.stack import Stack
from quanyi_platform.infra.smtp import CapturingSmtpServer

from tests.integration import checks
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    pay,
    place_order,
    problem,
    quiet,
    redeem,
)

pytestmark = pytest.mark.integration


async def test_a_paid_order_is_delivered_redeemed_and_booked(
    http: httpx.AsyncClient, stack: Stack, e2e_smtp: CapturingSmtpServer
) -> None:
    adm = await admin(http)
    keys = fresh_keys(3)
    sku = await create_sku_with_keys(adm, keys, price_minor=1990, cost_minor=1200)
    r = await http.get(f"/v1/skus/{sku['sku_id']}")
    assert r.status_code == 200 and r.json()["available"] == 3, r.text

    buyer = await new_buyer(http)
    idem = uuid.uuid4().hex
    r = await place_order(buyer, sku["sku_id"], 1, key=idem)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total"] == {"amount_minor": 1990, "currency": "CNY"}
    again = await place_order(buyer, sku["sku_id"], 1, key=idem)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true", again.text
    assert again.content == r.content

    r = await pay(http, order)
    assert r.status_code == 200, r.text
    assert await eventually(lambda: _status_is(buyer, order["order_id"], "FULFILLED"), timeout=30)

    r = await buyer.get("/v1/me/keys", params={"order_id": order["order_id"]})
    assert r.status_code == 200, r.text
    assert r.headers.get("cache-control") == "no-store"
    delivered = r.json()["items"]
    assert len(delivered) == 1
    code, password = delivered[0]["code"], delivered[0]["password"]
    assert (code, password) in keys

    mail = await e2e_smtp.wait_for_async(lambda m: order["order_id"] in str(m["Subject"]), timeout=10)
    assert code in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    r = await redeem(http, code)
    assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is False
    r = await redeem(http, code)
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    r = await buyer.get("/v1/me/keys", params={"order_id": order["order_id"]})
    assert r.json()["items"][0]["redeemed_at"]

    url = stack.config.database_url
    assert await eventually(lambda: _redeemed_event(url, order["order_id"]))
    assert (
        await checks.scalar(
            url, "SELECT decision FROM risk.decisions WHERE order_id = %s", (order["order_id"],)
        )
        == "APPROVE"
    )

    # The ledger: sale and key cost posted, balanced, chain verified.
    await eventually(lambda: _ledger_has(url, order["order_id"], 3))
    r = await adm.get("/v1/admin/ledger/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    balances = {
        b["account"]: b["balance_minor"]
        for b in (await adm.get("/v1/admin/ledger/balances")).json()["balances"]
    }
    assert balances["revenue:web"] <= -1990 and balances["cogs:web"] >= 1200, balances


async def _risk_decided(buyer: Any, order_id: str) -> bool:
    r = await buyer.get(f"/v1/orders/{order_id}")
    return bool(r.status_code == 200 and r.json()["risk_decision"] != "PENDING")


async def _status_is(buyer: object, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status  # type: ignore[arg-type]


async def _redeemed_event(url: str, order_id: str) -> bool:
    n = await checks.scalar(
        url,
        "SELECT count(*) FROM fulfillment.events WHERE correlation_id = %s AND event_type LIKE %s",
        (order_id, "%.Redeemed"),
    )
    return bool(n == 1)


async def _channel_delivered(url: str, order_id: str) -> bool:
    n = await checks.scalar(
        url,
        "SELECT count(*) FROM fulfillment.events WHERE correlation_id = %s AND event_type LIKE %s",
        (order_id, "%.ChannelDelivered"),
    )
    return bool(n)


async def _ledger_has(url: str, order_id: str, entries: int) -> bool:
    n = await checks.scalar(
        url, "SELECT count(*) FROM ledger.journal_entries WHERE correlation_id = %s", (order_id,)
    )
    return bool(n >= entries)


async def test_bad_input_gets_a_problem_and_changes_nothing(http: httpx.AsyncClient, stack: Stack) -> None:
    adm = await admin(http)
    keys = fresh_keys(2)
    sku = await create_sku_with_keys(adm, keys)
    owner = await new_buyer(http)
    other = await new_buyer(http)
    r = await place_order(owner, sku["sku_id"])
    order = r.json()
    await pay(http, order)
    assert await eventually(lambda: _status_is(owner, order["order_id"], "FULFILLED"))
    url = stack.config.database_url
    await eventually(lambda: quiet(url))
    await eventually(lambda: _ledger_has(url, order["order_id"], 3))
    # The e-mail ends the flow (its reveal, over gRPC, names no event as its cause).
    assert await eventually(lambda: _channel_delivered(url, order["order_id"]), timeout=30)

    async def refused() -> None:
        # Malformed JSON, unknown SKU, quantity <= 0, a missing idempotency key.
        r = await other.post(
            "/v1/orders",
            content=b'{"items": [',
            headers={"Idempotency-Key": "k1", "Content-Type": "application/json"},
        )
        problem(r, 400)
        problem(await place_order(other, "no-such-sku"), 404)
        problem(await place_order(other, sku["sku_id"], quantity=0), 422)
        problem(await place_order(other, sku["sku_id"], quantity=-3), 422)
        problem(await other.post("/v1/orders", json={"items": [{"sku_id": sku["sku_id"], "quantity": 1}]}), 400)
        # Another buyer's order and keys.
        problem(await other.get(f"/v1/orders/{order['order_id']}"), 404)
        problem(await other.get("/v1/me/keys", params={"order_id": order["order_id"]}), 404)
        problem(await http.get("/v1/me/keys"), 401)

    # Nothing emitted, nothing written.
    await checks.changes_nothing(url, refused, mine={order["order_id"]})

    # Webhooks: a wrong signature and an amount that differs from the order change nothing.
    pending = (await place_order(other, sku["sku_id"])).json()
    await eventually(lambda: quiet(url))
    await eventually(lambda: _risk_decided(other, pending["order_id"]))
    body = json.dumps(
        {
            "notice_id": "n1",
            "order_id": pending["order_id"],
            "txn_id": "t1",
            "status": "SUCCESS",
            "amount": {"minor_units": pending["total"]["amount_minor"], "currency": "CNY"},
        }
    ).encode()

    async def badly_signed() -> None:
        r = await http.post(
            "/v1/payments/psp-sim/notify",
            content=body,
            headers={
                "X-Psp-Signature": "bm90IGEgc2lnbmF0dXJl",
                "X-Psp-Timestamp": "1700000000",
                "X-Psp-Nonce": "abc",
                "X-Psp-Serial": "sim",
                "Content-Type": "application/json",
            },
        )
        problem(r, 401)

    await checks.changes_nothing(url, badly_signed, mine={order["order_id"], pending["order_id"]})
    # A wrong amount is money taken all the same: recorded, refunded, and the order still awaits payment.
    r = await pay(http, pending, amount_minor=pending["total"]["amount_minor"] - 1)
    assert r.status_code == 200 and r.json()["webhook_status"] == 200, r.text
    assert await order_status(other, pending["order_id"]) == "PENDING_PAYMENT"
    assert await eventually(lambda: checks.scalar(
        url, "SELECT count(*) FROM orders.refunds WHERE order_id = %s AND status = 'SUCCEEDED'",
        (pending["order_id"],),
    ))

    # The genuine notice pays once; the same signed notice resent is a duplicate that changes nothing.
    r = await http.post(
        "/psp-sim/v1/notices",
        json={
            "order_id": pending["order_id"],
            "amount": {"amount_minor": pending["total"]["amount_minor"], "currency": "CNY"},
        },
    )
    assert r.status_code == 200, r.text
    signed = r.json()
    r = await http.post(
        "/v1/payments/psp-sim/notify", content=signed["body"].encode(), headers=signed["headers"]
    )
    assert r.status_code == 200, r.text
    r = await http.post(
        "/v1/payments/psp-sim/notify", content=signed["body"].encode(), headers=signed["headers"]
    )
    assert r.status_code == 200, r.text
    captures = await payment_captures(url, pending["order_id"])
    assert len(captures) == 2, captures  # the refunded wrong amount, and the payment

    # A partner callback with a bad signature or a replayed nonce. The paid order's delivery runs on in the
    # background; a refused redemption of the first order's key could only move that first order.
    assert await eventually(lambda: _status_is(other, pending["order_id"], "FULFILLED"), timeout=30)
    assert await eventually(lambda: _channel_delivered(url, pending["order_id"]), timeout=30)
    await eventually(lambda: quiet(url))

    async def wrong_secret() -> None:
        problem(await redeem(http, keys[0][0], secret="wrong"), 401)

    await checks.changes_nothing(url, wrong_secret, mine={order["order_id"]})
    assert (await redeem(http, keys[0][0], nonce="fixed-nonce")).status_code == 200
    problem(await redeem(http, keys[0][0], nonce="fixed-nonce"), 409)

    # Admin routes refuse buyers.
    problem(await other.post("/v1/admin/products", json={"name": "x", "kind": "card_key"}), 403)


async def payment_captures(url: str, order_id: str) -> list[str]:
    """The order's PaymentCaptured events, as "provider txn amount refused_reason" lines."""


    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT envelope FROM orders.events WHERE aggregate_id = %s AND event_type LIKE %s ORDER BY seq",
            (order_id, "%.PaymentCaptured"),
        )
        rows = await cur.fetchall()
    captures = []
    for (payload,) in rows:
        envelope = envelope_pb2.Envelope.FromString(bytes(payload))
        ev = events_pb2.PaymentCaptured.FromString(envelope.payload)
        captures.append(f"{ev.provider} {ev.provider_txn_id} {ev.amount.minor_units} {ev.refused_reason}")
    return captures
