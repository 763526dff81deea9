from typing import Any


async def test_healthz_answers_while_the_process_is_up(gw: Any) -> None:
    r = await gw.client.get("/healthz")
    assert (r.status_code, r.json()["status"]) == (200, "ok")


async def test_readyz_checks_the_database_and_every_peer(gw: Any) -> None:
    r = await gw.client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {
        "database": True,
        "orders": True,
        "inventory": True,
        "fulfillment": True,
        "ledger": True,
    }


async def test_readyz_is_a_503_problem_when_peers_are_down(start_gateway: Any, make_settings: Any) -> None:
    gw = await start_gateway(make_settings(peer="127.0.0.1:1"))
    r = await gw.client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["checks"]["database"] is True
    assert r.json()["checks"]["orders"] is False
