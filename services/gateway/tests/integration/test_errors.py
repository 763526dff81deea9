from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert body["status"] == status
    return body


async def test_malformed_json_is_a_400_problem(gw: Any) -> None:
    r = await gw.client.post(
        "/v1/auth/register",
        content=b'{"email": "x@example.com", "password":',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(r, 400)
    assert body["instance"] == "/v1/auth/register"


async def test_a_body_that_is_not_json_is_415(gw: Any) -> None:
    r = await gw.client.post("/v1/auth/register", content=b"email=x", headers={"content-type": "text/plain"})
    assert_problem(r, 415)


async def test_validation_errors_are_a_422_problem_with_an_errors_list(gw: Any) -> None:
    r = await gw.client.post("/v1/auth/register", json={"email": "not-an-email", "password": 12})
    body = assert_problem(r, 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "email"), ("body", "password")}


async def test_unknown_routes_and_methods_are_problems(gw: Any) -> None:
    assert_problem(await gw.client.get("/v1/nowhere"), 404)
    r = await gw.client.get("/v1/auth/register")
    assert_problem(r, 405)
    assert "POST" in r.headers["allow"]


async def test_an_unhandled_error_is_a_500_problem_without_a_stack_trace(gw: Any) -> None:
    async def boom() -> None:
        raise RuntimeError("secret internals")

    gw.app.add_api_route("/boom", boom)
    r = await gw.client.get("/boom")
    body = assert_problem(r, 500)
    assert "secret internals" not in r.text
    assert "Traceback" not in r.text
    assert body["detail"] == "internal error"


async def test_a_body_over_the_limit_is_a_413_problem(start_gateway: Any, make_settings: Any) -> None:
    gw = await start_gateway(make_settings(max_body_bytes=1024))
    r = await gw.client.post("/v1/auth/register", json={"email": "big@example.com", "password": "x" * 4000})
    assert_problem(r, 413)


async def test_the_openapi_document_and_docs_are_served(gw: Any) -> None:
    spec = (await gw.client.get("/openapi.json")).json()
    assert "/v1/orders" in spec["paths"]
    assert spec["paths"]["/v1/orders"]["post"]["summary"]
    assert (await gw.client.get("/docs")).status_code == 200


async def test_a_streamed_body_over_the_limit_is_a_413_problem(
    start_gateway: Any, make_settings: Any
) -> None:
    gw = await start_gateway(make_settings(max_body_bytes=1024))

    async def chunks() -> Any:
        for _ in range(8):
            yield b" " * 512

    for path in ("/v1/auth/register", "/v1/partners/acme/redemptions"):
        r = await gw.client.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert_problem(r, 413)


async def test_an_exhausted_database_pool_is_a_503_problem_with_retry_after(gw: Any, database_url: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(database_url, min_size=1, max_size=1, open=False)
    await pool.open(wait=True)

    async def busy() -> None:
        async with pool.connection(timeout=0.2) as conn:
            await conn.execute("SELECT 1")

    gw.app.add_api_route("/busy", busy)
    try:
        assert (await gw.client.get("/busy")).status_code == 200
        async with pool.connection():  # the only connection is taken: overload, not a bug
            r = await gw.client.get("/busy")
    finally:
        await pool.close()
    body = assert_problem(r, 503)
    assert int(r.headers["retry-after"]) >= 1
    assert "Traceback" not in r.text and "PoolTimeout" not in r.text
    assert body["detail"] == "the service is busy; retry later"
