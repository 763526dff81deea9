"""Personal data (issue 10): events and every table outside the gateway's accounts carry the buyer's id,
never their e-mail address, yet the delivery e-mail reaches them (fulfillment asks the gateway when it
sends); a buyer's erasure removes the address from the whole database and keeps the ledger, the order and
the key history under the buyer's id. I5 and I6 still hold."""

from __future__ import annotations

import uuid

import httpx
import pytest
from quanyi_cli.stack import Stack
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.testing.replay import assert_replay_matches_live

from tests.integration import checks
from tests.integration.harness import (
    SEEN_SECRETS,
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    order_status,
    pay,
    place_order,
    quiet,
    sign_in,
)

pytestmark = pytest.mark.integration


async def test_events_carry_buyer_ids_and_an_erased_buyer_leaves_no_address_but_keeps_orders_keys_and_ledger(
    http: httpx.AsyncClient, stack: Stack, e2e_smtp: CapturingSmtpServer
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=990, cost_minor=500)
    email = f"pii-{uuid.uuid4().hex[:10]}@buyer.test"
    r = await http.post("/v1/auth/register", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 201, r.text
    buyer_id = r.json()["user_id"]
    buyer = await sign_in(http, email, "buyer-password")

    r = await place_order(buyer, sku["sku_id"])
    assert r.status_code == 201, r.text
    order = r.json()
    assert (await pay(http, order)).status_code == 200
    assert await eventually(lambda: _status_is(buyer, order["order_id"], "FULFILLED"), timeout=30)
    # The delivery e-mail found the buyer: fulfillment asked the gateway for the address by id.
    mail = await e2e_smtp.wait_for_async(lambda m: order["order_id"] in str(m["Subject"]), timeout=30)
    assert mail["To"] == email
    assert await eventually(lambda: quiet(url), timeout=30)

    # Before the erasure, the address is in the gateway's tables only (the account, the sign-in throttle):
    # in no event, in no other service's table.
    holders = await checks.plaintext_in_tables(url, [email])
    assert "gateway.users.email" in holders and all(h.startswith("gateway.") for h in holders), holders
    read, in_topics = await checks.plaintext_in_topics(stack.config.kafka_bootstrap, [email])
    assert read > 0 and in_topics == []

    journal = await checks.scalar(url, "SELECT count(*) FROM ledger.journal_entries")
    reveals = await checks.scalar(url, "SELECT count(*) FROM inventory.events WHERE correlation_id = %s",
                                  (order["order_id"],))
    r = await buyer.http.delete("/v1/me", headers=buyer.auth())
    assert r.status_code == 204, r.text

    # Gone from the whole database; the account cannot sign in.
    assert await checks.plaintext_in_tables(url, [email]) == []
    r = await http.post("/v1/auth/token", json={"email": email, "password": "buyer-password"})
    assert r.status_code == 401
    # The ledger, the order and the key history stay, under the buyer's id.
    assert await checks.scalar(url, "SELECT count(*) FROM ledger.journal_entries") == journal
    assert await checks.scalar(
        url, "SELECT count(*) FROM orders.orders WHERE order_id = %s AND buyer_id = %s", (order["order_id"], buyer_id)
    ) == 1
    assert await checks.scalar(
        url, "SELECT count(*) FROM fulfillment.deliveries WHERE order_id = %s AND buyer_id = %s",
        (order["order_id"], buyer_id),
    ) == 1
    assert await checks.scalar(
        url, "SELECT count(*) FROM inventory.events WHERE correlation_id = %s", (order["order_id"],)
    ) == reveals
    r = await adm.get(f"/v1/orders/{order['order_id']}")
    assert r.status_code == 200 and r.json()["buyer_id"] == buyer_id, r.text

    # I5: no key in any table; I6: fulfillment's and orders' projections rebuild to what is live.
    assert await checks.plaintext_in_tables(url, SEEN_SECRETS) == []
    for service in ("fulfillment", "orders"):
        await assert_replay_matches_live(url, service, kafka_bootstrap=stack.config.kafka_bootstrap)


async def _status_is(buyer: object, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status  # type: ignore[arg-type]
