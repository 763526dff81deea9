"""Admission control per route: placements past their own cap wait up to `placement_wait_s` for a slot and
are then refused (503 + Retry-After), while other requests, payments included, still pass under the
gateway's overall cap."""

from __future__ import annotations

import asyncio
from typing import Any

from services.gateway.tests.integration.conftest import FakePeers

PROBLEM = "application/problem+json"


async def test_placements_past_their_cap_get_503_with_retry_after_and_other_requests_pass(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(
        max_in_flight_placements=1, placement_wait_s=0.0, retry_after_s=2, grpc_deadline_s=60.0
    ))
    fake.add_sku("slow")
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("admission@example.com")
    # GetSku of "slow" waits until released: the first placement stays in flight.
    held = asyncio.create_task(gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "slow", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": "held"},
    ))
    await asyncio.wait_for(fake.get_sku_called.wait(), 5)
    refused = await gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "sku-a", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": "refused"},
    )
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"] == PROBLEM
    # Other routes are not held by the placements' cap.
    assert (await gw.client.get("/v1/skus/sku-a")).status_code == 200
    assert (await gw.client.get("/healthz")).status_code == 200
    fake.slow.set()
    assert (await held).status_code == 201
    # The refused key placed nothing and is free: the same request now goes through.
    again = await gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "sku-a", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": "refused"},
    )
    assert again.status_code == 201, again.text
    assert fake.calls.count("PlaceOrder") == 2


async def test_a_placement_past_the_cap_waits_for_a_slot_and_is_placed_when_one_frees_in_time(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(
        make_settings(max_in_flight_placements=1, placement_wait_s=20.0, grpc_deadline_s=60.0)
    )
    fake.add_sku("slow")
    fake.add_sku("sku-a")
    _, auth = await gw.buyer("burst@example.com")
    held = asyncio.create_task(gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "slow", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": "held"},
    ))
    await asyncio.wait_for(fake.get_sku_called.wait(), 5)
    waiting = asyncio.create_task(gw.client.post(
        "/v1/orders", json={"items": [{"sku_id": "sku-a", "quantity": 1}]},
        headers={**auth, "Idempotency-Key": "waiting"},
    ))
    # The second placement waits for the slot: nothing of it reaches orders while the first holds it.
    done, _ = await asyncio.wait({waiting}, timeout=0.5)
    assert not done and fake.calls.count("PlaceOrder") == 0
    fake.slow.set()
    assert (await held).status_code == 201
    placed = await waiting
    assert placed.status_code == 201, placed.text
    assert fake.calls.count("PlaceOrder") == 2
