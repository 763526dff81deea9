"""Risk decides every order; too many orders by one account in a minute are held for review."""

from __future__ import annotations

import httpx
import pytest
from psycopg import AsyncConnection
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
    # Orders are keyed by order id, so risk may see them in any order; whichever it saw last is the one
    # too many, and exactly that one is held.
    async with await AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT order_id, decision, reasons FROM risk.decisions WHERE order_id = ANY(%s)",
            ([o["order_id"] for o in orders],),
        )
        decisions = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
    held = [order_id for order_id, (decision, _) in decisions.items() if decision == "REVIEW"]
    assert len(held) == 1, decisions
    assert f"{RISK_LIMIT + 1} orders in 60s" in decisions[held[0]][1][0]
    held_id = held[0]
    held_order = next(o for o in orders if o["order_id"] == held_id)
    assert await eventually(lambda: _is(buyer, held_id, "UNDER_REVIEW"))
    for o in orders:
        if o["order_id"] != held_id:
            assert await order_status(buyer, o["order_id"]) == "PENDING_PAYMENT"

    r = await pay(http, held_order)
    assert r.status_code == 200 and r.json()["webhook_status"] == 200, r.text
    await eventually(lambda: _captured(url, held_id))
    assert await order_status(buyer, held_id) == "UNDER_REVIEW"  # paid, but held: nothing delivered yet
    r = await adm.post(f"/v1/admin/orders/{held_id}/review", json={"approve": True})
    assert r.status_code == 200, r.text
    assert await eventually(lambda: _is(buyer, held_id, "FULFILLED"))


async def _is(buyer: object, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status  # type: ignore[arg-type]


async def _captured(url: str, order_id: str) -> bool:
    n = await checks.scalar(
        url,
        "SELECT count(*) FROM orders.events WHERE aggregate_id = %s AND event_type LIKE %s",
        (order_id, "%.PaymentCaptured"),
    )
    return bool(n == 1)
