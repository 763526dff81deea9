"""An order's and a key's whole history in the admin API, asked of every running service over gRPC (each
one's EventHistoryService), merged and folded as `quanyi history` folds it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

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
)

pytestmark = pytest.mark.integration

BOOKED_BY_ALL = {"orders", "inventory", "fulfillment", "ledger"}


async def test_a_delivered_orders_history_holds_every_services_events_in_causal_order(
    http: httpx.AsyncClient,
) -> None:
    adm = await admin(http)
    keys = fresh_keys(1)
    sku = await create_sku_with_keys(adm, keys, price_minor=1990, cost_minor=1200)
    buyer = await new_buyer(http)
    r = await place_order(buyer, sku["sku_id"], 1)
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    assert (await pay(http, r.json())).status_code == 200
    assert await eventually(lambda: _is(buyer, order_id, "FULFILLED"), timeout=30)

    async def booked_everywhere() -> dict[str, Any] | None:
        r = await adm.get(f"/v1/admin/orders/{order_id}/history")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if BOOKED_BY_ALL <= {s["service"] for s in body["chain"]} else None

    body = await eventually(booked_everywhere, timeout=30)
    assert body["kind"] == "order" and body["missing"] == [] and body["truncated"] == []
    assert body["state"] in {"delivered", "fulfilled"}
    assert body["facts"]["total"] == "19.90 CNY"
    chain = body["chain"]
    # Causal order: every event comes after the event that caused it, one level deeper.
    position = {s["event_id"]: (i, s["depth"]) for i, s in enumerate(chain)}
    caused = [s for s in chain if s["caused_by"] in position]
    assert caused, chain
    for i, step in enumerate(chain):
        if step["caused_by"] in position:
            at, depth = position[step["caused_by"]]
            assert at < i and step["depth"] == depth + 1, step
    seen = [(s["service"], s["event"]) for s in chain]
    first = {pair: i for i, pair in reversed(list(enumerate(seen)))}
    assert first[("orders", "OrderPlaced")] < first[("orders", "OrderPaid")]
    assert first[("orders", "OrderPaid")] < first[("inventory", "KeyReserved")]
    delivered = next(s for s in chain if s["service"] == "fulfillment" and s["event"] == "KeyDelivered")
    reserved = next(s for s in chain if s["service"] == "inventory" and s["event"] == "KeyReserved")
    assert position[delivered["event_id"]][0] > position[reserved["event_id"]][0]
    # Card keys are secrets: no code or password in the history.
    text = (await adm.get(f"/v1/admin/orders/{order_id}/history")).text
    assert all(secret not in text for pair in keys for secret in pair)

    # As of the moment it was placed, the order was awaiting payment.
    placed_at = datetime.fromisoformat(chain[0]["at"])
    r = await adm.get(
        f"/v1/admin/orders/{order_id}/history", params={"as_of": (placed_at + timedelta(microseconds=1)).isoformat()}
    )
    assert r.status_code == 200 and r.json()["state"] == "awaiting payment", r.text

    # The key's own history: found through its order, only the events that name it.
    r = await buyer.get("/v1/me/keys", params={"order_id": order_id})
    key_id = r.json()["items"][0]["key_id"]
    r = await adm.get(f"/v1/admin/keys/{key_id}/history")
    assert r.status_code == 200, r.text
    key = r.json()
    assert key["kind"] == "key" and key["state"] == "delivered" and key["facts"]["order"] == order_id
    assert {"inventory", "fulfillment"} <= {s["service"] for s in key["chain"]}
    assert all(secret not in r.text for pair in keys for secret in pair)

    # Nothing anywhere: a problem document, not an empty history.
    problem(await adm.get("/v1/admin/orders/no-such-order/history"), 404)
    # A buyer is no operator.
    assert (await buyer.get(f"/v1/admin/orders/{order_id}/history")).status_code == 403


async def _is(buyer: Any, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status
