"""Risk decides every order; too many orders by one account in a minute are held for review."""

from __future__ import annotations

import httpx
import pytest
from quanyi_cli.stack import Stack

from tests.integration import checks
from tests.integration.conftest import RISK_LIMIT
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


async def test_an_account_ordering_too_fast_is_held_until_a_reviewer_releases_it(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    adm = await admin(http)
    sku = await create_sku_with_keys(adm, fresh_keys(RISK_LIMIT + 1), name="Youku")
    buyer = await new_buyer(http)
    orders = [(await place_order(buyer, sku["sku_id"])).json() for _ in range(RISK_LIMIT + 1)]
    url = stack.config.database_url

    async def decided() -> bool:
        n = await checks.scalar(
            url,
            "SELECT count(*) FROM risk.decisions WHERE order_id = ANY(%s)",
            ([o["order_id"] for o in orders],),
        )
        return bool(n == len(orders))

    await eventually(decided)
    last = orders[-1]["order_id"]
    assert await eventually(lambda: _is(buyer, last, "UNDER_REVIEW"))
    assert (
        await checks.scalar(url, "SELECT decision FROM risk.decisions WHERE order_id = %s", (last,))
        == "REVIEW"
    )
    assert await order_status(buyer, orders[0]["order_id"]) == "PENDING_PAYMENT"

    r = await pay(http, orders[-1])
    assert r.status_code == 200 and r.json()["webhook_status"] == 200, r.text
    await eventually(lambda: _captured(url, last))
    assert await order_status(buyer, last) == "UNDER_REVIEW"  # paid, but held: nothing delivered yet
    r = await adm.post(f"/v1/admin/orders/{last}/review", json={"approve": True})
    assert r.status_code == 200, r.text
    assert await eventually(lambda: _is(buyer, last, "FULFILLED"))


async def _is(buyer: object, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status  # type: ignore[arg-type]


async def _captured(url: str, order_id: str) -> bool:
    n = await checks.scalar(
        url,
        "SELECT count(*) FROM orders.events WHERE aggregate_id = %s AND event_type LIKE %s",
        (order_id, "%.PaymentCaptured"),
    )
    return bool(n == 1)
