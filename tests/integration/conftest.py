"""All six services running as processes on a broker of their own and a fresh database."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from quanyi_cli.stack import Stack, StackConfig
from quanyi_gateway.psp_sim import generate_keypair
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.infra.tansu import TansuBroker

from tests.integration.harness import ADMIN_EMAIL, ADMIN_PASSWORD, PARTNER, PARTNER_SECRET

RISK_LIMIT = 5
PAYMENT_TTL_S = 60
# fulfillment's partner top-up and SMS simulators (development only) run inside fulfillment, on a port of
# each stack's own (tests/security starts a second stack in the same session): channel_simulators_url(stack).
PARTNER_API_KEY = "e2e-partner-api-key"
PARTNER_ACCOUNT = "acct-e2e"


def channel_simulators_url(stack: Stack) -> str:
    """Where this stack's fulfillment serves its partner and SMS simulators."""
    return f"http://{stack.config.extra_env['QUANYI_FULFILLMENT_SIMULATORS_LISTEN']}"


@pytest.fixture(scope="session")
def stack_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="quanyi-e2e-"))
    os.chmod(path, 0o711)
    yield path
    if not os.environ.get("QUANYI_KEEP_E2E"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def e2e_smtp() -> Iterator[CapturingSmtpServer]:
    server = CapturingSmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def e2e_broker(stack_dir: Path) -> Iterator[TansuBroker]:
    broker = TansuBroker(log_path=stack_dir / "tansu.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def stack(
    pg_admin_url: str, stack_dir: Path, e2e_smtp: CapturingSmtpServer, e2e_broker: TansuBroker
) -> Iterator[Stack]:
    name = f"quanyi_e2e_{uuid.uuid4().hex[:12]}"
    channel_sim_port = free_port()
    create_database(pg_admin_url, name)
    private_key, public_key = generate_keypair(stack_dir / "psp")
    config = StackConfig.with_free_ports(
        database_url=database_url_for(pg_admin_url, name),
        kafka_bootstrap=e2e_broker.bootstrap,
        smtp_port=e2e_smtp.port,
        data_dir=stack_dir,
        psp_private_key=private_key,
        psp_public_key=public_key,
        environment="test",
        extra_env={
            "QUANYI_ADMIN_EMAIL": ADMIN_EMAIL,
            "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "QUANYI_PARTNER_SECRETS": json.dumps({PARTNER: PARTNER_SECRET}),
            "QUANYI_PASSWORD_HASH_N": "1024",
            "QUANYI_RISK_MAX_ORDERS_PER_MINUTE": str(RISK_LIMIT),
            "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "QUANYI_BROKER_EPOCH_CHECK_S": "0.5",
            "QUANYI_MAX_IN_FLIGHT": "1024",
            # Consumers off an order's way (the ledger, inventory's reports, the gateway's risk flags) wake
            # as fast as the others once idle, so a test that waits for the stack to settle
            # (tests/security/conftest.settled_counts) waits for less than a second of quiet, not 2.
            "QUANYI_CONSUMER_BACKGROUND_IDLE_FETCH_WAIT_MS": "500",
            # The order saga at test speed: unpaid orders expire after PAYMENT_TTL_S, providers are asked about
            # unpaid orders from a second after placement, unconfirmed refunds are sent again after 2 s.
            "QUANYI_PAYMENT_TTL_S": str(PAYMENT_TTL_S),
            "QUANYI_PAYMENT_QUERY_AFTER_S": "1",
            "QUANYI_PAYMENT_QUERY_INTERVAL_S": "1",
            "QUANYI_REFUND_RETRY_S": "2",
            # Delivery channels on demand, against fulfillment's own simulators, with test-speed backoff.
            "QUANYI_FULFILLMENT_SIMULATORS_LISTEN": f"127.0.0.1:{channel_sim_port}",
            "QUANYI_FULFILLMENT_SIMULATOR_ACCOUNTS": json.dumps([PARTNER_ACCOUNT]),
            "QUANYI_PARTNER_API_URL": f"http://127.0.0.1:{channel_sim_port}",
            "QUANYI_PARTNER_API_KEY": PARTNER_API_KEY,
            "QUANYI_SMS_API_URL": f"http://127.0.0.1:{channel_sim_port}",
            "QUANYI_SMS_API_KEY": PARTNER_API_KEY,
            "QUANYI_PUSH_API_URL": f"http://127.0.0.1:{channel_sim_port}",
            "QUANYI_PUSH_API_KEY": PARTNER_API_KEY,
            "QUANYI_CHANNEL_MAX_ATTEMPTS": "3",
            "QUANYI_CHANNEL_RETRY_BASE_S": "0.05",
            "QUANYI_CHANNEL_RETRY_CAP_S": "0.2",
            # Every test client comes from 127.0.0.1: orders' cap of unpaid orders' stock holds per address
            # would count them all as one client (the cap per buyer stays on).
            "QUANYI_HOLD_MAX_PER_CLIENT": "0",
            # Every test client comes from 127.0.0.1: the per-IP abuse limits would count them all as one;
            # and every test signs the admin in. (Failed sign-ins still lock an account: tests/security.)
            "QUANYI_RATE_LIMITS": json.dumps(
                {
                    **{f"{a}:ip": {"limit": 1_000_000, "per_s": 60} for a in ("login", "register", "checkout", "reveal")},
                    "login:account": {"limit": 1_000_000, "per_s": 60},
                }
            ),
            # Failed sign-ins lock an account for ten minutes (the first lock), longer than a test takes, so a
            # test shows the lock holds, not that it has yet to lapse: at the default second it could run
            # out between the hostile suite's 200th failure (0.6 s in; 0.3-0.5 s of the lock left) and its
            # right password, which then signed in.
            "QUANYI_LOGIN_BACKOFF_BASE_S": "600",
        },
    )
    s = Stack(config)
    s.start()
    try:
        s.wait_ready(timeout=90)
        yield s
    finally:
        s.stop()
        drop_database(pg_admin_url, name)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    # The development credential rides along on every request: the PSP simulator asks for it.
    headers = {"X-Dev-Credential": stack.config.dev_credential}
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=30, headers=headers) as client:
        yield client
