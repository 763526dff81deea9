"""A buyer's kept delivery targets end to end, services as processes: the buyer keeps a phone number, a
device and a partner account with the gateway (PUT /v1/me/delivery-targets); a paid order of theirs is
delivered in the user centre, by e-mail and then, without anyone asking, by SMS, by a push to the device
and by a top-up of the partner account (fulfillment's simulators), each announced by ChannelDelivered on
its KeptChannel stream; the order is fulfilled with no exception-queue entry. The buyer's erasure removes
the targets. No target is in any table, event or log line outside the gateway's own table."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import psycopg
from quanyi_cli.stack import Stack
from quanyi_platform.envelope import open_envelope

from tests.integration import checks
from tests.integration.conftest import PARTNER_ACCOUNT, channel_simulators_url
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


async def _kept_outcomes(url: str, order_id: str) -> list[tuple[str, str]]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT event_type, envelope FROM fulfillment.events WHERE correlation_id = %s"
            " AND aggregate_type = 'KeptChannel' ORDER BY seq",
            (order_id,),
        )
        rows = await cur.fetchall()
    out = []
    for event_type, envelope in rows:
        payload: Any = open_envelope(bytes(envelope))[1]
        out.append((event_type.rsplit(".", 1)[-1], payload.channel))
    return out


async def test_a_paid_order_is_also_delivered_on_every_channel_the_buyer_keeps_without_being_asked(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    phone = f"+86139{random.randrange(10**8):08d}"
    device = f"fcm:e2e-{uuid.uuid4().hex}"
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(2), name="Tencent Video VIP")
    buyer = await new_buyer(http)
    r = await http.put("/v1/me/delivery-targets", headers=buyer.auth(), json={"targets": [
        {"channel": "sms", "target": phone}, {"channel": "app", "target": device},
        {"channel": "activation", "target": PARTNER_ACCOUNT},
    ]})
    assert r.status_code == 200, r.text

    order = (await place_order(buyer, sku["sku_id"], quantity=2)).json()
    assert (await pay(http, order)).status_code == 200
    order_id = order["order_id"]

    async def all_delivered() -> list[tuple[str, str]] | None:
        outcomes = await _kept_outcomes(url, order_id)
        ended = [o for o in outcomes if o[0] != "ChannelRequested" and o[0] != "ChannelAttemptStarted"]
        return outcomes if len(ended) == 3 else None

    outcomes = await eventually(all_delivered, timeout=60)
    assert sorted(o for o in outcomes if o[0] == "ChannelDelivered") == [
        ("ChannelDelivered", "activation"), ("ChannelDelivered", "app"), ("ChannelDelivered", "sms"),
    ], outcomes

    codes = [k["code"] for k in (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]]
    developer = {"X-Dev-Credential": stack.config.dev_credential}
    async with httpx.AsyncClient(base_url=channel_simulators_url(stack), timeout=10, headers=developer) as sim:
        state = (await sim.get("/_sim/state")).json()
    [message] = [m for m in state["messages"] if m["to"] == phone]
    assert all(c in message["text"] for c in codes)
    assert sorted(t["code"] for t in state["topups"] if t["code"] in codes) == sorted(codes)  # each once
    assert [p for p in state["pushes"] if p["device"] == device and p["data"]["order_id"] == order_id]

    async def fulfilled() -> bool:
        return await order_status(buyer, order_id) == "FULFILLED"

    await eventually(fulfilled, timeout=30)
    queue = await adm.get("/v1/admin/ops/queue", params={"include_resolved": True, "limit": 500})
    assert queue.status_code == 200, queue.text
    assert not [e for e in queue.json()["items"] if e["order_id"] == order_id]

    r = await http.delete("/v1/me", headers=buyer.auth())
    assert r.status_code == 204
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM gateway.delivery_targets WHERE target = ANY(%s)",
                                 ([phone, device],))
        assert await cur.fetchone() == (0,)
    assert await checks.plaintext_in_tables(url, [phone, device]) == []
    assert checks.plaintext_in_logs(stack.log_dir, [phone, device]) == []
