import asyncio
import uuid
from typing import Any

from quanyi.common.v1 import money_pb2

PROBLEM = "application/problem+json"


def order_body(*items: tuple[str, int]) -> dict[str, Any]:
    return {"items": [{"sku_id": s, "quantity": q} for s, q in items]}


async def test_an_order_is_placed_at_catalogue_prices_with_payment_instructions(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a", price_minor=1999)
    buyer_id, auth = await gw.buyer("buyer@example.com")
    r = await gw.client.post(
        "/v1/orders", json=order_body(("sku-a", 2)), headers={**auth, "Idempotency-Key": "k-1"}
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["buyer_id"] == buyer_id
    assert order["items"] == [
        {"sku_id": "sku-a", "quantity": 2, "unit_price": {"amount_minor": 1999, "currency": "CNY"}}
    ]
    assert order["payment"] == {
        "provider": "psp-sim",
        "pay_url": "/psp-sim/v1/pay",
        "amount": {"amount_minor": 3998, "currency": "CNY"},
    }


async def test_the_same_idempotency_key_replays_the_same_order(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("buyer@example.com")
    headers = {**auth, "Idempotency-Key": "same"}
    first = await gw.client.post("/v1/orders", json=order_body(("sku-a", 1)), headers=headers)
    again = await gw.client.post("/v1/orders", json=order_body(("sku-a", 1)), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["order_id"] == again.json()["order_id"]


async def test_placing_an_order_needs_an_idempotency_key_of_at_most_128_chars(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("buyer@example.com")
    missing = await gw.client.post("/v1/orders", json=order_body(("sku-a", 1)), headers=auth)
    too_long = await gw.client.post(
        "/v1/orders", json=order_body(("sku-a", 1)), headers={**auth, "Idempotency-Key": "x" * 129}
    )
    for r in (missing, too_long):
        assert r.status_code == 400
        assert r.headers["content-type"] == PROBLEM
    assert "Idempotency-Key" in missing.json()["detail"]
    assert fake.calls == []


async def test_an_unknown_sku_is_404_and_no_order_is_placed(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("buyer@example.com")
    r = await gw.client.post(
        "/v1/orders", json=order_body(("sku-a", 1), ("sku-zzz", 1)), headers={**auth, "Idempotency-Key": "k"}
    )
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert "unknown SKU" in r.json()["detail"]
    assert "PlaceOrder" not in fake.calls


async def test_quantities_outside_1_to_100_are_422(gw: Any, fake: Any) -> None:
    _, auth = await gw.buyer("buyer@example.com")
    for quantity in (0, 101):
        r = await gw.client.post(
            "/v1/orders", json=order_body(("sku-a", quantity)), headers={**auth, "Idempotency-Key": "k"}
        )
        assert r.status_code == 422
    assert fake.calls == []


async def test_a_buyer_cannot_see_another_buyers_order_nor_learn_that_it_exists(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a")
    _, alice = await gw.buyer("alice@example.com")
    _, bob = await gw.buyer("bob@example.com")
    placed = await gw.client.post(
        "/v1/orders", json=order_body(("sku-a", 1)), headers={**alice, "Idempotency-Key": "k"}
    )
    order_id = placed.json()["order_id"]
    assert (await gw.client.get(f"/v1/orders/{order_id}", headers=alice)).status_code == 200
    theirs = await gw.client.get(f"/v1/orders/{order_id}", headers=bob)
    nobodys = await gw.client.get("/v1/orders/00000000-0000-0000-0000-000000000000", headers=bob)
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json()["detail"] == nobodys.json()["detail"]
    listed = (await gw.client.get("/v1/me/orders", headers=alice)).json()
    assert [o["order_id"] for o in listed["items"]] == [order_id]
    assert (await gw.client.get("/v1/me/orders", headers=bob)).json()["items"] == []


async def test_my_keys_are_revealed_under_audit_and_never_cached(gw: Any, fake: Any) -> None:
    alice_id, alice = await gw.buyer("alice@example.com")
    bob_id, _ = await gw.buyer("bob@example.com")
    key_id = fake.deliver("o-1", alice_id, "sku-a", code="CODE-1", password="PW-1")
    fake.deliver("o-2", bob_id, "sku-a", code="BOBS-CODE")
    r = await gw.client.get("/v1/me/keys", headers=alice)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "items": [
            {
                "order_id": "o-1",
                "key_id": key_id,
                "sku_id": "sku-a",
                "code": "CODE-1",
                "password": "PW-1",
                "delivered_at": "2026-01-01T00:00:00+00:00",
                "redeemed_at": None,
            }
        ],
        "next_cursor": None,
    }
    (reveal,) = fake.reveals
    assert (reveal.order_id, list(reveal.key_ids)) == ("o-1", [key_id])
    assert (reveal.actor, reveal.purpose) == (f"buyer:{alice_id}", "user-center")


async def test_my_keys_come_a_page_of_orders_at_a_time_and_only_the_page_is_revealed(gw: Any, fake: Any) -> None:
    alice_id, alice = await gw.buyer("alice@example.com")
    for n in range(5):
        fake.deliver(f"o-{n}", alice_id, "sku-a", code=f"C{n}a")
        fake.deliver(f"o-{n}", alice_id, "sku-a", code=f"C{n}b")
    seen: list[list[str]] = []
    cursor = ""
    while True:
        fake.reveals.clear()
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        r = await gw.client.get("/v1/me/keys", params=params, headers=alice)
        assert r.status_code == 200, r.text
        seen.append([k["code"] for k in r.json()["items"]])
        assert sorted(reveal.order_id for reveal in fake.reveals) == sorted({f"o-{c[1]}" for c in seen[-1]})
        cursor = r.json()["next_cursor"] or ""
        if not cursor:
            break
    assert [sorted(codes) for codes in seen] == [
        ["C3a", "C3b", "C4a", "C4b"], ["C1a", "C1b", "C2a", "C2b"], ["C0a", "C0b"]
    ]
    for bad in ({"cursor": "not-a-cursor"}, {"cursor": "x" * 300}, {"limit": "0"}, {"limit": "101"}):
        r = await gw.client.get("/v1/me/keys", params=bad, headers=alice)
        assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM), bad


async def test_my_keys_can_be_narrowed_to_one_order(gw: Any, fake: Any) -> None:
    alice_id, alice = await gw.buyer("alice@example.com")
    fake.deliver("o-1", alice_id, "sku-a", code="C1")
    fake.deliver("o-2", alice_id, "sku-a", code="C2")
    r = await gw.client.get("/v1/me/keys", params={"order_id": "o-2"}, headers=alice)
    assert [k["code"] for k in r.json()["items"]] == ["C2"]


async def test_asking_for_the_keys_of_another_buyers_order_is_a_404(gw: Any, fake: Any) -> None:
    alice_id, _ = await gw.buyer("alice@example.com")
    _, bob = await gw.buyer("bob@example.com")
    fake.deliver("o-1", alice_id, "sku-a", code="C1")
    r = await gw.client.get("/v1/me/keys", params={"order_id": "o-1"}, headers=bob)
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert "C1" not in r.text


async def test_past_max_in_flight_requests_get_503_with_retry_after_but_probes_pass(
    start_gateway: Any, make_settings: Any, fake: Any
) -> None:
    gw = await start_gateway(make_settings(max_in_flight=1, retry_after_s=2))
    held = asyncio.create_task(gw.client.get("/v1/skus/slow"))
    await asyncio.wait_for(fake.get_sku_called.wait(), 5)
    refused = await gw.client.get("/v1/skus/slow")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"] == PROBLEM
    assert (await gw.client.get("/healthz")).status_code == 200
    fake.slow.set()
    assert (await held).status_code == 404


async def test_an_unreachable_peer_is_503_with_retry_after(start_gateway: Any, make_settings: Any) -> None:
    gw = await start_gateway(make_settings(peer="127.0.0.1:1"))
    r = await gw.client.get("/v1/skus/sku-a")
    assert r.status_code == 503
    assert "retry-after" in r.headers
    assert "127.0.0.1" not in r.text


async def test_the_public_sku_page_shows_price_and_availability(gw: Any, fake: Any) -> None:
    fake.add_sku("sku-a", price_minor=500, available=7)
    r = await gw.client.get("/v1/skus/sku-a")
    assert r.json() == {
        "sku_id": "sku-a",
        "product_id": "p-1",
        "name": "sku-a",
        "price": {"amount_minor": 500, "currency": "CNY"},
        "available": 7,
    }
    assert (await gw.client.get("/v1/skus/nope")).status_code == 404


async def test_keys_passwords_and_tokens_never_reach_the_logs(gw: Any, fake: Any, caplog: Any) -> None:
    caplog.set_level("DEBUG")
    alice_id, alice = await gw.buyer("alice@example.com")
    fake.deliver("o-1", alice_id, "sku-a", code="PLAIN-CODE-9", password="PLAIN-PW-9")
    assert (await gw.client.get("/v1/me/keys", headers=alice)).status_code == 200
    await gw.client.post("/v1/auth/register", json={"email": "x@example.com", "password": "short"})
    token = alice["Authorization"].split()[1]
    for secret in ("PLAIN-CODE-9", "PLAIN-PW-9", "correct-horse", token):
        assert secret not in caplog.text


async def test_a_buyers_refund_request_follows_the_refunds_orders_reports(gw: Any, fake: Any) -> None:
    alice_id, alice = await gw.buyer("alice@example.com")
    _, bob = await gw.buyer("bob@example.com")
    order_id = str(uuid.uuid4())
    fake.deliver(order_id, alice_id, "sku-a", code="C1")
    path = f"/v1/me/orders/{order_id}/refund-requests"
    asked = await gw.client.post(path, json={"reason": "not_working"}, headers=alice)
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "requested"

    def orders_refunds(*states: str) -> None:
        order = fake.orders[order_id]
        del order.refunds[:]
        for i, state in enumerate(states):
            amount = money_pb2.Money(minor_units=100, currency="CNY")
            order.refunds.add(refund_id=f"r-{i}", state=state, amount=amount)

    for states, expected in [
        (("AWAITING_KEYS",), "processing"), (("UNDER_REVIEW",), "processing"), (("DECLINED",), "declined"),
        (("DECLINED", "REFUNDED"), "refunded"),
    ]:
        orders_refunds(*states)
        mine = (await gw.client.get("/v1/me/refund-requests", headers=alice)).json()["items"]
        assert [(r["order_id"], r["state"]) for r in mine] == [(order_id, expected)], states
        again = await gw.client.post(path, json={"reason": "other"}, headers=alice)
        assert again.status_code == 200 and again.json() == mine[0]
    assert (await gw.client.get("/v1/me/refund-requests", headers=bob)).json() == {"items": [], "next_cursor": None}
    listed = (await gw.client.get("/v1/me/refund-requests")).status_code
    assert listed == 401
