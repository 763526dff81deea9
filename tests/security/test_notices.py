"""Payment notices: forged (another key), tampered (changed after signing) and replayed ones pay nothing
twice and change nothing."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from quanyi_cli.stack import Stack
from quanyi_gateway.psp_sim import load_private_key, new_private_key, notice_headers, signed_notice

from tests.integration import checks
from tests.integration.harness import (
    admin,
    create_sku_with_keys,
    eventually,
    fresh_keys,
    new_buyer,
    order_status,
    place_order,
    problem,
)
from tests.security.conftest import changed, settled_counts

pytestmark = pytest.mark.integration

NOTIFY = "/v1/payments/psp-sim/notify"
SERIAL = "psp-sim-dev"


async def test_forged_tampered_and_replayed_notices_pay_nothing_and_change_nothing(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(1), price_minor=1990)
    buyer = await new_buyer(http)
    order = (await place_order(buyer, sku["sku_id"])).json()
    amount = order["total"]["amount_minor"]
    url = stack.config.database_url
    before = await settled_counts(url)

    forged = signed_notice(new_private_key(), SERIAL, order["order_id"], amount, "CNY")
    assert problem(await http.post(NOTIFY, content=forged.body, headers=forged.headers), 401)

    key = load_private_key(stack.config.psp_private_key)
    genuine = signed_notice(key, SERIAL, order["order_id"], amount, "CNY")
    cheaper = genuine.body.replace(f'"minor_units":{amount}'.encode(), b'"minor_units":1')
    assert cheaper != genuine.body
    problem(await http.post(NOTIFY, content=cheaper, headers=genuine.headers), 401)
    # Signed again with a signature of the right key over another message: still refused.
    other = base64.b64encode(key.sign(b"something else", padding.PKCS1v15(), hashes.SHA256())).decode()
    problem(await http.post(NOTIFY, content=genuine.body, headers={**genuine.headers, "X-Psp-Signature": other}), 401)
    assert changed(before, await settled_counts(url)) == {}
    assert await order_status(buyer, order["order_id"]) == "PENDING_PAYMENT"

    r = await http.post(NOTIFY, content=genuine.body, headers=genuine.headers)
    assert r.status_code == 200, r.text
    await eventually(lambda: _delivered(buyer, order["order_id"]))
    paid = await settled_counts(url)
    # The same notice again, its nonce already seen: nothing at all.
    replayed = await http.post(NOTIFY, content=genuine.body, headers=genuine.headers)
    assert replayed.status_code in (200, 409), replayed.text
    assert changed(paid, await settled_counts(url)) == {}
    # Re-signed with a fresh nonce: orders records that it heard the notice again, and pays nothing twice.
    fresh = await http.post(NOTIFY, content=genuine.body, headers=notice_headers(key, SERIAL, genuine.body))
    assert fresh.status_code == 200, fresh.text
    after = await settled_counts(url)
    assert set(changed(paid, after)) <= {"orders.events", "orders.payment_notices"}
    new_types = await checks.scalar(
        url,
        "SELECT array_agg(event_type) FROM orders.events WHERE seq > (SELECT max(seq) - %s FROM orders.events)",
        (after["orders.events"] - paid["orders.events"],),
    )
    assert not [t for t in (new_types or []) if t.endswith("OrderPaid")], new_types


async def _delivered(buyer: object, order_id: str) -> bool:
    return await order_status(buyer, order_id) == "FULFILLED"  # type: ignore[arg-type]
