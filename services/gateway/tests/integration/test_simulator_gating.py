"""The simulators are off by default; on, only in development, and only for the development credential."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from quanyi_gateway.config import Settings

from services.gateway.tests.integration.conftest import FakePeers

PAY = {"order_id": "o-1", "amount": {"amount_minor": 1, "currency": "CNY"}}


async def test_by_default_the_simulators_are_not_routed_nor_in_the_openapi(
    start_gateway: Any, make_settings: Any
) -> None:
    gw = await start_gateway(make_settings(simulators_enabled=False, dev_credential=""))
    for path in ("/psp-sim/v1/pay", "/psp-sim/v1/notices"):
        assert (await gw.client.post(path, json=PAY)).status_code == 404
    spec = (await gw.client.get("/openapi.json")).json()
    assert not [p for p in spec["paths"] if "sim" in p]
    assert Settings(environment="development").simulators_active is False


async def test_enabled_simulators_answer_only_the_development_credential(
    gw: Any, fake: FakePeers
) -> None:
    for credential in ("", "wrong-credential-of-some-length", "dev-credential-for-tests-and-more"):
        r = await gw.client.post("/psp-sim/v1/pay", json=PAY, headers={"X-Dev-Credential": credential})
        assert r.status_code == 401, r.text
        assert r.json()["type"] == "urn:quanyi:problem:dev-credential-required"
        r = await gw.client.post("/psp-sim/v1/notices", json=PAY, headers={"X-Dev-Credential": credential})
        assert r.status_code == 401
    assert fake.notices == []
    r = await gw.client.post("/psp-sim/v1/notices", json=PAY)  # the client sends the credential
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_only_a_development_environment_may_enable_the_simulators(environment: str) -> None:
    with pytest.raises(ValidationError, match="development setting"):
        Settings(
            environment=environment,
            simulators_enabled=True,
            dev_credential="x" * 32,
            admin_password="a-real-password",
            partner_secrets={"acme": "real-secret"},
            token_secret="a-real-token-secret-of-32-bytes-or-more",
            kafka_enable_idempotence=True,
        )


def test_enabling_the_simulators_needs_a_development_credential() -> None:
    with pytest.raises(ValidationError, match="QUANYI_DEV_CREDENTIAL"):
        Settings(environment="development", simulators_enabled=True)
    assert Settings(environment="test", simulators_enabled=True, dev_credential="x" * 16).simulators_active
