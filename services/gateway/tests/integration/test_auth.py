import asyncio
from typing import Any

import psycopg

PROBLEM = "application/problem+json"


async def test_a_buyer_registers_signs_in_and_is_known_by_the_token(gw: Any) -> None:
    user = await gw.register("Alice@Example.com")
    assert user["email"] == "alice@example.com"
    token = await gw.token("alice@example.com")
    r = await gw.client.get("/v1/me/orders", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"items": [], "next_cursor": None}


async def test_the_token_answer_is_a_bearer_token_with_its_lifetime(gw: Any) -> None:
    await gw.register("bob@example.com")
    r = await gw.client.post("/v1/auth/token", json={"email": "BOB@example.com", "password": "correct-horse"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 43


async def test_registering_an_email_twice_in_any_case_is_a_conflict(gw: Any) -> None:
    await gw.register("carol@example.com")
    r = await gw.client.post(
        "/v1/auth/register", json={"email": "CAROL@example.com", "password": "another-one"}
    )
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 409


async def test_a_wrong_password_or_unknown_email_is_401_and_says_the_same(gw: Any) -> None:
    await gw.register("dave@example.com")
    wrong = await gw.client.post(
        "/v1/auth/token", json={"email": "dave@example.com", "password": "nope-nope"}
    )
    unknown = await gw.client.post(
        "/v1/auth/token", json={"email": "eve@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_routes_for_buyers_refuse_missing_and_unknown_tokens(gw: Any) -> None:
    missing = await gw.client.get("/v1/me/orders")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == PROBLEM
    forged = await gw.client.get("/v1/me/orders", headers={"Authorization": "Bearer not-a-real-token"})
    assert forged.status_code == 401


async def test_a_short_password_is_a_422_problem_that_does_not_echo_the_password(gw: Any) -> None:
    r = await gw.client.post("/v1/auth/register", json={"email": "f@example.com", "password": "s3cr3t!"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["errors"][0]["loc"] == ["body", "password"]
    assert "s3cr3t!" not in r.text


async def test_the_configured_admin_exists_at_start_up(gw: Any) -> None:
    headers = await gw.admin()
    r = await gw.client.get("/v1/admin/ledger/verify", headers=headers)
    assert r.status_code == 200


async def test_a_restart_resets_the_admin_password_to_the_configured_one(
    start_gateway: Any, make_settings: Any
) -> None:
    await start_gateway(make_settings(admin_password="first-password"))
    second = await start_gateway(make_settings(admin_password="second-password"))
    old = await second.client.post(
        "/v1/auth/token", json={"email": "admin@example.com", "password": "first-password"}
    )
    new = await second.client.post(
        "/v1/auth/token", json={"email": "admin@example.com", "password": "second-password"}
    )
    assert (old.status_code, new.status_code) == (401, 200)


async def eventually(check: Any, timeout: float = 10.0) -> None:
    """Wait until `check()` is true, polling; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_requests_are_authenticated_without_the_database_and_a_revoked_token_is_refused(
    start_gateway: Any, make_settings: Any, database_url: str
) -> None:
    gw = await start_gateway(make_settings(token_revocation_refresh_s=3600))
    _, alice = await gw.buyer("alice@example.com")
    _, bob = await gw.buyer("bob@example.com")
    assert (await gw.client.post("/v1/auth/logout", headers=bob)).status_code == 204
    pool = gw.app.state.resources.pool
    taken = pool.get_stats()["requests_num"]
    # Another session holds exclusive locks on the account tables: any read of them would wait for it.
    async with await psycopg.AsyncConnection.connect(database_url) as locker, locker.transaction():
        await locker.execute("LOCK TABLE gateway.users, gateway.revoked_tokens IN ACCESS EXCLUSIVE MODE")
        for _ in range(20):
            ok = await asyncio.wait_for(gw.client.get("/v1/me/orders", headers=alice), 5)
            refused = await asyncio.wait_for(gw.client.get("/v1/me/orders", headers=bob), 5)
            assert (ok.status_code, refused.status_code) == (200, 401)
    assert refused.headers["content-type"] == PROBLEM
    assert pool.get_stats()["requests_num"] == taken  # not one connection taken from the pool


async def test_a_token_revoked_at_one_replica_is_refused_by_another_within_its_refresh_interval(
    start_gateway: Any, make_settings: Any
) -> None:
    here = await start_gateway(make_settings())
    there = await start_gateway(make_settings(token_revocation_refresh_s=0.2))
    _, alice = await here.buyer("alice@example.com")
    assert (await there.client.get("/v1/me/orders", headers=alice)).status_code == 200
    assert (await here.client.post("/v1/auth/logout", headers=alice)).status_code == 204
    assert (await here.client.get("/v1/me/orders", headers=alice)).status_code == 401

    async def refused_there() -> bool:
        return (await there.client.get("/v1/me/orders", headers=alice)).status_code == 401

    await eventually(refused_there)


async def test_a_token_signed_with_another_secret_is_refused(start_gateway: Any, make_settings: Any) -> None:
    ours = await start_gateway(make_settings())
    theirs = await start_gateway(make_settings(token_secret="another-token-secret-of-32-bytes-or-more"))
    _, auth = await theirs.buyer("mallory@example.com")
    assert (await ours.client.get("/v1/me/orders", headers=auth)).status_code == 401


async def test_signing_out_without_a_valid_token_is_401(gw: Any) -> None:
    assert (await gw.client.post("/v1/auth/logout")).status_code == 401
    forged = await gw.client.post("/v1/auth/logout", headers={"Authorization": "Bearer x.y.z"})
    assert forged.status_code == 401
    assert forged.headers["content-type"] == PROBLEM
