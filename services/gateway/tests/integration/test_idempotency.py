"""Idempotency keys as Stripe keeps them: replay byte for byte, 422 for another body, one execution for
concurrent requests, 24 hours of life; refusals and failures are not stored."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from services.gateway.tests.integration.conftest import FakePeers


def order(sku: str, quantity: int = 1) -> dict[str, Any]:
    return {"items": [{"sku_id": sku, "quantity": quantity}]}


async def test_the_same_key_and_body_replay_the_first_response_byte_for_byte(
    gw: Any, fake: FakePeers
) -> None:
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("idem@example.com")
    headers = {**auth, "Idempotency-Key": "k-1"}
    first = await gw.client.post("/v1/orders", json=order("sku-a"), headers=headers)
    # The same body written differently (key order, spacing) is the same request.
    again = await gw.client.post(
        "/v1/orders",
        content=b'{ "items" : [ { "quantity": 1, "sku_id": "sku-a" } ] }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert fake.calls.count("PlaceOrder") == 1


async def test_the_same_key_with_another_body_is_422_and_places_nothing(gw: Any, fake: FakePeers) -> None:
    fake.add_sku("sku-a")
    fake.add_sku("sku-b")
    _, auth = await gw.buyer("idem2@example.com")
    headers = {**auth, "Idempotency-Key": "k-2"}
    assert (await gw.client.post("/v1/orders", json=order("sku-a"), headers=headers)).status_code == 201
    for other in (order("sku-a", 2), order("sku-b")):
        r = await gw.client.post("/v1/orders", json=other, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["type"] == "urn:quanyi:problem:idempotency-key-reused"
    assert fake.calls.count("PlaceOrder") == 1 and len(fake.orders) == 1


async def test_keys_belong_to_their_buyer(gw: Any, fake: FakePeers) -> None:
    fake.add_sku("sku-a")
    _, alice = await gw.buyer("alice-idem@example.com")
    _, bob = await gw.buyer("bob-idem@example.com")
    a = await gw.client.post("/v1/orders", json=order("sku-a"), headers={**alice, "Idempotency-Key": "k"})
    b = await gw.client.post("/v1/orders", json=order("sku-a", 2), headers={**bob, "Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 201
    assert a.json()["order_id"] != b.json()["order_id"]


async def test_concurrent_requests_on_one_key_place_one_order(gw: Any, fake: FakePeers) -> None:
    fake.add_sku("slow")
    _, auth = await gw.buyer("idem3@example.com")
    headers = {**auth, "Idempotency-Key": "k-3"}
    # GetSku of "slow" waits until released, so all ten requests are in flight together.
    tasks = [
        asyncio.create_task(gw.client.post("/v1/orders", json=order("slow"), headers=headers))
        for _ in range(10)
    ]
    await asyncio.wait_for(fake.get_sku_called.wait(), 10)
    await asyncio.sleep(0.2)
    fake.slow.set()
    answers = await asyncio.gather(*tasks)
    assert {r.status_code for r in answers} == {201}
    assert len({r.content for r in answers}) == 1
    assert fake.calls.count("PlaceOrder") == 1 and fake.calls.count("GetSku") == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 9


async def test_a_key_is_new_again_after_its_lifetime(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(idempotency_ttl_s=1))
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("idem4@example.com")
    headers = {**auth, "Idempotency-Key": "k-4"}
    first = await gw.client.post("/v1/orders", json=order("sku-a"), headers=headers)
    await asyncio.sleep(1.1)
    later = await gw.client.post("/v1/orders", json=order("sku-a", 2), headers=headers)
    assert first.status_code == later.status_code == 201
    assert later.json()["order_id"] != first.json()["order_id"]
    assert "idempotent-replayed" not in later.headers


async def test_a_refusal_or_a_failure_is_not_stored_and_the_key_may_be_sent_again(
    gw: Any, fake: FakePeers
) -> None:
    _, auth = await gw.buyer("idem5@example.com")
    headers = {**auth, "Idempotency-Key": "k-5"}
    unknown = await gw.client.post("/v1/orders", json=order("sku-zz"), headers=headers)
    assert unknown.status_code == 404 and "idempotent-replayed" not in unknown.headers
    async with gw.app.state.resources.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM idempotency_keys")
        assert (await cur.fetchone())["n"] == 0  # a refused request writes nothing
    fake.add_sku("sku-b")
    fixed = await gw.client.post("/v1/orders", json=order("sku-b"), headers=headers)
    assert fixed.status_code == 201, fixed.text

    fake.add_sku("sku-a")
    headers = {**auth, "Idempotency-Key": "k-6"}
    fake.place_error = grpc.StatusCode.UNAVAILABLE
    r = await gw.client.post("/v1/orders", json=order("sku-a"), headers=headers)
    assert r.status_code == 503, r.text
    fake.place_error = None
    r = await gw.client.post("/v1/orders", json=order("sku-a"), headers=headers)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert len(fake.orders) == 2
