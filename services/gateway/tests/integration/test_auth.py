from typing import Any

PROBLEM = "application/problem+json"


async def test_a_buyer_registers_signs_in_and_is_known_by_the_token(gw: Any) -> None:
    user = await gw.register("Alice@Example.com")
    assert user["email"] == "alice@example.com"
    token = await gw.token("alice@example.com")
    r = await gw.client.get("/v1/me/orders", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == []


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
