import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from quanyi_gateway.main import create_app
from quanyi_gateway.psp_sim import generate_keypair

from services.gateway.tests.integration.conftest import DEV_CREDENTIAL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def public_key(path: Path) -> RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, RSAPublicKey)
    return key


@asynccontextmanager
async def served(make_settings: Callable[..., Any], **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway on a real port, because the simulator calls the webhook over real HTTP."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(public_base_url=base, gateway_listen=f"127.0.0.1:{port}", **overrides))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the gateway did not start"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=base, headers={"X-Dev-Credential": DEV_CREDENTIAL}) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def test_the_simulator_pays_an_order_with_a_notice_orders_can_verify(
    make_settings: Any, fake: Any, tmp_path: Path
) -> None:
    private, public = generate_keypair(tmp_path)
    fake.psp_public_key = public_key(public)
    async with served(
        make_settings, psp_sim_private_key_path=str(private), psp_sim_key_serial="s-7"
    ) as client:
        r = await client.post(
            "/psp-sim/v1/pay", json={"order_id": "o-1", "amount": {"amount_minor": 3998, "currency": "CNY"}}
        )
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["webhook_status"], result["webhook_response"]) == (200, {"code": "SUCCESS"})
    (notice,) = fake.notices
    assert (notice.provider, notice.serial) == ("psp-sim", "s-7")
    body = json.loads(notice.body)
    assert body == {
        "notice_id": result["notice_id"],
        "order_id": "o-1",
        "txn_id": result["txn_id"],
        "status": "SUCCESS",
        "amount": {"minor_units": 3998, "currency": "CNY"},
    }
    assert body["txn_id"].startswith("sim-")


async def test_a_notice_signed_with_an_unknown_key_is_refused_by_the_webhook(
    make_settings: Any, fake: Any, tmp_path: Path
) -> None:
    _, public = generate_keypair(tmp_path)
    fake.psp_public_key = public_key(public)
    async with served(make_settings) as client:  # no key file: a throw-away key orders does not know
        r = await client.post(
            "/psp-sim/v1/pay", json={"order_id": "o-1", "amount": {"amount_minor": 1, "currency": "CNY"}}
        )
    assert r.json()["webhook_status"] == 401
    assert r.json()["webhook_response"]["type"] == "urn:quanyi:problem:unauthenticated"


async def test_the_simulator_is_not_mounted_when_disabled(start_gateway: Any, make_settings: Any) -> None:
    gw = await start_gateway(make_settings(simulators_enabled=False))
    r = await gw.client.post(
        "/psp-sim/v1/pay", json={"order_id": "o-1", "amount": {"amount_minor": 1, "currency": "CNY"}}
    )
    assert r.status_code == 404
