"""Abuse limits: 429 + Retry-After per account and per IP address on sign-in, registration, checkout and
key reveal; exponential backoff after failed sign-ins; an operator's unlock; tighter limits for a flagged
buyer."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quanyi.common.v1.envelope_pb2 import Envelope
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_gateway.adapters.risk_flags import RISK_DECIDED, risk_flags_handler
from quanyi_gateway.application.limits import Backoff
from quanyi_platform.consumer import ReceivedEvent

from services.gateway.tests.integration.conftest import ADMIN_EMAIL, FakePeers

# The limits count in fixed windows aligned to the epoch (adapters/limits.py): a test that crossed a window's
# end would see its counts start again. Windows of an hour, and a test never starts in an hour's last minute.
WINDOW_S = 3600
MARGIN_S = 60


@pytest.fixture(autouse=True)
async def a_fresh_window() -> None:
    left = WINDOW_S - time.time() % WINDOW_S
    if left < MARGIN_S:
        await asyncio.sleep(left + 0.5)  # waits on the clock itself: the next window has begun


def limited(r: Any) -> int:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    retry_after = int(r.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def test_backoff_doubles_after_the_free_failures_up_to_its_ceiling() -> None:
    b = Backoff(free=3, base_s=1, max_s=10)
    assert [b.lock_s(n) for n in range(1, 9)] == [0, 0, 0, 1, 2, 4, 8, 10]


async def test_failed_sign_ins_lock_the_account_even_for_the_right_password(
    start_gateway: Any, make_settings: Any
) -> None:
    gw = await start_gateway(make_settings(login_free_failures=3, login_backoff_base_s=30))
    await gw.register("victim@example.com")
    wrong = {"email": "victim@example.com", "password": "wrong-password"}
    statuses = [(await gw.client.post("/v1/auth/token", json=wrong)).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 401]  # the 4th failure is counted and locks the account
    right = {"email": "victim@example.com", "password": "correct-horse"}
    r = await gw.client.post("/v1/auth/token", json=right)
    assert 25 <= limited(r) <= 30
    # Another address is not affected; the account is unlocked by an operator and signs in at once.
    other = await gw.client.post("/v1/auth/token", json={"email": ADMIN_EMAIL, "password": "x"})
    assert other.status_code == 401
    admin = await gw.admin()
    r = await gw.client.post(
        "/v1/admin/accounts/unlock", json={"email": "Victim@example.com"}, headers=admin
    )
    assert r.status_code == 200 and r.json() == {"email": "victim@example.com", "unlocked": True}
    assert await gw.token("victim@example.com")


async def test_an_unlock_needs_the_admin_role(gw: Any) -> None:
    _, buyer = await gw.buyer("not-admin@example.com")
    r = await gw.client.post("/v1/admin/accounts/unlock", json={"email": "x@example.com"}, headers=buyer)
    assert r.status_code == 403


async def test_sign_ins_are_limited_per_account_and_per_ip(start_gateway: Any, make_settings: Any) -> None:
    rules = {"login:account": {"limit": 3, "per_s": WINDOW_S}, "login:ip": {"limit": 5, "per_s": WINDOW_S}}
    gw = await start_gateway(make_settings(rate_limits=rules))
    await gw.register("a@example.com")
    for _ in range(3):
        await gw.token("a@example.com")
    r = await gw.client.post("/v1/auth/token", json={"email": "a@example.com", "password": "correct-horse"})
    limited(r)
    r = await gw.client.post("/v1/auth/token", json={"email": "b@example.com", "password": "x"})
    assert r.status_code == 401  # the 5th sign-in from this IP address
    limited(await gw.client.post("/v1/auth/token", json={"email": "c@example.com", "password": "x"}))


async def test_registrations_are_limited_per_ip(start_gateway: Any, make_settings: Any) -> None:
    gw = await start_gateway(make_settings(rate_limits={"register:ip": {"limit": 2, "per_s": WINDOW_S}}))
    await gw.register("r1@example.com")
    await gw.register("r2@example.com")
    r = await gw.client.post("/v1/auth/register", json={"email": "r3@example.com", "password": "long-enough"})
    limited(r)
    async with gw.app.state.resources.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM users WHERE role = 'buyer'")
        assert (await cur.fetchone())["n"] == 2


async def test_checkout_is_limited_per_account_and_a_flagged_buyer_gets_less(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(rate_limits={"checkout:account": {"limit": 4, "per_s": WINDOW_S}}))
    fake.add_sku("sku-a")
    body = {"items": [{"sku_id": "sku-a", "quantity": 1}]}
    _, alice = await gw.buyer("alice@example.com")
    bob_id, bob = await gw.buyer("bob@example.com")
    for i in range(4):
        r = await gw.client.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": f"a{i}"})
        assert r.status_code == 201
    limited(await gw.client.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": "a5"}))
    assert fake.calls.count("PlaceOrder") == 4
    # Risk flagged Bob: his limit is divided by 4.
    await gw.app.state.resources.limits.tighten(bob_id, 4, datetime.now(UTC) + timedelta(hours=1), "review")
    r = await gw.client.post("/v1/orders", json=body, headers={**bob, "Idempotency-Key": "b1"})
    assert r.status_code == 201
    limited(await gw.client.post("/v1/orders", json=body, headers={**bob, "Idempotency-Key": "b2"}))
    assert fake.calls.count("PlaceOrder") == 5


async def test_key_reveals_are_limited_per_account(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(rate_limits={"reveal:account": {"limit": 2, "per_s": WINDOW_S}}))
    _, auth = await gw.buyer("keys@example.com")
    for _ in range(2):
        assert (await gw.client.get("/v1/me/keys", headers=auth)).status_code == 200
    limited(await gw.client.get("/v1/me/keys", headers=auth))
    assert fake.calls.count("ListDeliveries") == 2


async def test_risk_holding_or_rejecting_an_order_tightens_the_buyers_limits(
    start_gateway: Any, make_settings: Any, fake: FakePeers
) -> None:
    gw = await start_gateway(make_settings(rate_limits={"checkout:account": {"limit": 8, "per_s": WINDOW_S}}))
    fake.add_sku("sku-a")
    held_id, held = await gw.buyer("held@example.com")
    fine_id, fine = await gw.buyer("fine@example.com")
    now = datetime.now(UTC)

    def decided(buyer_id: str, decision: int, at: datetime) -> ReceivedEvent:
        envelope = Envelope(event_id=str(uuid.uuid4()), type=RISK_DECIDED)
        envelope.occurred_at.FromDatetime(at)
        payload = risk_events.RiskDecided(order_id=str(uuid.uuid4()), buyer_id=buyer_id, decision=decision)
        return ReceivedEvent(envelope, payload, "quanyi.risk.v1", 0, 0)

    handler = risk_flags_handler(4, timedelta(hours=1))
    events = [
        decided(fine_id, risk_events.DECISION_APPROVE, now),
        decided(held_id, risk_events.DECISION_REVIEW, now - timedelta(minutes=5)),
        decided(held_id, risk_events.DECISION_REJECT, now),
        decided(fine_id, risk_events.DECISION_REVIEW, now - timedelta(hours=2)),  # long over
    ]
    async with gw.app.state.resources.pool.connection() as conn:
        await handler.apply(conn, events)
        cur = await conn.execute("SELECT buyer_id, factor, until, reason FROM tightened_buyers ORDER BY buyer_id")
        rows = await cur.fetchall()
    by_buyer = {r["buyer_id"]: r for r in rows}
    assert by_buyer[held_id]["until"] == now + timedelta(hours=1)
    assert by_buyer[held_id]["reason"] == "risk DECISION_REJECT"

    body = {"items": [{"sku_id": "sku-a", "quantity": 1}]}
    statuses = {}
    for name, headers in (("held", held), ("fine", fine)):
        statuses[name] = [
            (await gw.client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": f"{name}{i}"}))
            .status_code
            for i in range(3)
        ]
    assert statuses == {"held": [201, 201, 429], "fine": [201, 201, 201]}
