"""Delivery channels end to end, services as processes: a paid order's KeyDelivered names the user centre
only and the e-mail is announced once sent; the partner's top-up API (fulfillment's development simulator)
is down, the operator's one-click activation retries and gives up as DeliveryFailed (final, channel
'activation'); after recovery the operator's re-drive credits each key exactly once, and a repeat credits
nothing; the buyer resends on SMS. No target (account, phone number) is in any table or event."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
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
    pay,
    place_order,
)

PHONE = "+8613912345678"


async def _fulfillment_events(url: str, order_id: str, kind: str) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT envelope FROM fulfillment.events WHERE correlation_id = %s AND event_type LIKE %s"
            " ORDER BY seq",
            (order_id, f"%.{kind}"),
        )
        return [open_envelope(bytes(r[0]))[1] for r in await cur.fetchall()]


async def test_activation_partner_down_gives_up_then_a_redrive_credits_each_key_once_and_a_resend_by_sms(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(2), name="Youku VIP")
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"], quantity=2)).json()
    assert (await pay(http, order)).status_code == 200
    order_id = order["order_id"]

    async def emailed() -> bool:
        return bool(await _fulfillment_events(url, order_id, "ChannelDelivered"))

    await eventually(emailed, timeout=60)
    [delivered] = await _fulfillment_events(url, order_id, "KeyDelivered")
    assert isinstance(delivered, fulfillment_events.KeyDelivered)
    assert list(delivered.channels) == ["user_center"]
    [announced] = await _fulfillment_events(url, order_id, "ChannelDelivered")
    assert announced.channel == "email"

    sim_url = channel_simulators_url(stack)
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as stranger:
        # The simulators' control routes are development tools: without the credential they refuse.
        r = await stranger.post("/_sim/faults", json={"service": "partner", "mode": "down"})
        assert r.status_code == 401, r.text
    developer = {"X-Dev-Credential": stack.config.dev_credential}
    async with httpx.AsyncClient(base_url=sim_url, timeout=10, headers=developer) as sim:
        # The simulators serve the whole session's stack: this test counts only what appears after its start.
        seen = (await sim.get("/_sim/state")).json()
        topups_before = {t["topup_id"] for t in seen["topups"]}
        messages_before = len(seen["messages"])

        async def new_topups() -> list[dict[str, str]]:
            state = (await sim.get("/_sim/state")).json()
            return [t for t in state["topups"] if t["topup_id"] not in topups_before]

        r = await sim.post("/_sim/faults", json={"service": "partner", "mode": "down"})
        assert r.status_code == 200, r.text
        try:
            body = {"channel": "activation", "target": PARTNER_ACCOUNT}
            given_up = await adm.post(f"/v1/admin/orders/{order_id}/deliveries", json=body)
            assert given_up.status_code == 200, given_up.text
            assert given_up.json() == {"delivered": False, "attempts": 3, "reason": "partner answered HTTP 503"}
            [failed] = await _fulfillment_events(url, order_id, "DeliveryFailed")
            assert (failed.channel, failed.final, failed.attempt) == ("activation", True, 3)
            assert await new_topups() == []
        finally:  # the next test on this stack meets a partner that answers
            await sim.post("/_sim/faults", json={"service": "partner", "mode": "ok"})

        # The operator's re-drive with the CLI (the target on standard input, out of the shell's history).
        env = {**os.environ, "QUANYI_GATEWAY_URL": stack.config.gateway_url, "QUANYI_ADMIN_TOKEN": adm.token}
        done = await asyncio.to_thread(
            subprocess.run,
            [str(Path(sys.executable).parent / "quanyi"), "deliver", order_id, "--channel", "activation",
             "--target", "-", "--json"],
            input=PARTNER_ACCOUNT + "\n", env=env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"delivered": True, "attempts": 2, "reason": ""}  # a top-up per key
        again = await adm.post(f"/v1/admin/orders/{order_id}/deliveries", json=body)
        assert again.json()["delivered"] is True
        credited = await new_topups()
        codes = [k["code"] for k in (await buyer.get("/v1/me/keys", params={"order_id": order_id})).json()["items"]]
        assert sorted(t["code"] for t in credited) == sorted(codes)  # each key credited exactly once
        assert {t["account"] for t in credited} == {PARTNER_ACCOUNT}

        resent = await buyer.post(f"/v1/me/orders/{order_id}/deliveries", json={"channel": "sms", "target": PHONE})
        assert resent.status_code == 200, resent.text
        assert resent.json()["delivered"] is True
        [message] = (await sim.get("/_sim/state")).json()["messages"][messages_before:]
        assert message["to"] == PHONE and all(c in message["text"] for c in codes)

    channels = sorted(e.channel for e in await _fulfillment_events(url, order_id, "ChannelDelivered"))
    assert channels == ["activation", "activation", "email", "sms"]
    requested = [e.requested_by for e in await _fulfillment_events(url, order_id, "ChannelRequested")]
    assert len(requested) == 4 and requested[-1].startswith("buyer:") and requested[0].startswith("admin:")
    assert await checks.plaintext_in_tables(url, [PHONE, PARTNER_ACCOUNT]) == []
    assert checks.plaintext_in_logs(stack.log_dir, [PHONE, PARTNER_ACCOUNT]) == []
