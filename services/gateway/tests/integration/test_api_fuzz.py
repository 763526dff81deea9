"""Schemathesis against the gateway's own OpenAPI: every operation with generated valid and invalid input
(fixed seed, a bounded number of examples each), as an admin. No answer may be a 5xx or break the schema
the OpenAPI documents for it. The peers are the in-memory fakes, so what is tested is the gateway; an RPC
the fakes do not implement answers NOT_FOUND, as a peer that knows no such thing would."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx

# Imported here, in the main thread, not lazily inside the fuzzing thread: importing it runs ast.parse, and
# CPython 3.11.7 keeps the AST constructor's recursion depth in interpreter-wide state, so a parse there,
# racing a parse in another thread, fails with "AST constructor recursion depth mismatch" (seen in CI).
import hypothesis.strategies._internal.random  # noqa: F401
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as fulfillment_grpc
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi.ledger.v1 import ledger_service_pb2_grpc as ledger_grpc
from quanyi.orders.v1 import orders_service_pb2_grpc as orders_grpc
from quanyi_gateway.main import create_app
from quanyi_platform import rpc
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from services.gateway.tests.integration.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    FakeFulfillment,
    FakeInventory,
    FakeLedger,
    FakeOrders,
    FakePeers,
    MakeSettings,
)

# Examples per operation and mode: the whole run stays under a minute on a loaded CI machine.
EXAMPLES = 6
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def served(make_settings: MakeSettings, **overrides: Any) -> AsyncIterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(public_base_url=base, gateway_listen=f"127.0.0.1:{port}", **overrides))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the gateway did not start"
            await asyncio.sleep(0.02)
        yield base
    finally:
        server.should_exit = True
        await task


def _completed(fake_class: type, base: type) -> type:
    """`fake_class` with every RPC of `base` it lacks answering NOT_FOUND (instead of UNKNOWN)."""

    def not_found(name: str) -> Any:
        async def rpc(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{name}: not known to the fake")

        return rpc

    missing = {
        name: not_found(name)
        for name in vars(base)
        if not name.startswith("_") and callable(vars(base)[name]) and name not in vars(fake_class)
    }
    return type(f"Complete{fake_class.__name__}", (fake_class,), missing)


@pytest.fixture
async def fuzz_peers() -> AsyncIterator[tuple[FakePeers, str]]:
    fake = FakePeers()
    server = rpc.server()
    for servicer, base, add in (
        (FakeInventory, inventory_grpc.InventoryServiceServicer, inventory_grpc.add_InventoryServiceServicer_to_server),
        (FakeOrders, orders_grpc.OrdersServiceServicer, orders_grpc.add_OrdersServiceServicer_to_server),
        (FakeFulfillment, fulfillment_grpc.FulfillmentServiceServicer, fulfillment_grpc.add_FulfillmentServiceServicer_to_server),
        (FakeLedger, ledger_grpc.LedgerServiceServicer, ledger_grpc.add_LedgerServiceServicer_to_server),
    ):
        add(_completed(servicer, base)(fake), server)  # type: ignore[operator]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await rpc.set_ready(server, True)
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        fake.slow.set()
        await server.stop(grace=None)


def fuzz(base: str, token: str) -> tuple[Counter[int], list[str]]:
    """Run every operation's examples; returns the status codes answered and the failures found."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # Signing out would revoke the admin's token for every operation after it.
        auth = {} if operation.path == "/v1/auth/logout" else {"Authorization": f"Bearer {token}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                examples(operation, mode, base, auth, statuses, failures)()
            except Unsatisfiable:  # nothing about this operation can be made invalid (no parameters)
                assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses, failures


def examples(
    operation: Any,
    mode: GenerationMode,
    base: str,
    auth: dict[str, str],
    statuses: Counter[int],
    failures: list[str],
) -> Any:
    """The Hypothesis test of one operation: call it with each example and check the answer."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the fixed seed: the same examples on every run
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=auth, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # a schemathesis FailureGroup (or one failure)
            failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:600]}")

    return run


async def test_fuzzing_the_openapi_finds_no_server_error_and_no_answer_off_its_schema(
    make_settings: MakeSettings, fuzz_peers: tuple[FakePeers, str]
) -> None:
    fake, peer = fuzz_peers
    fake.add_sku("sku-a")
    # As deployed: the simulators off (they are a development setting).
    async with served(make_settings, peer=peer, simulators_enabled=False) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.post("/v1/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            token = r.json()["access_token"]
        statuses, failures = await asyncio.to_thread(fuzz, base, token)
    assert failures == [], "\n".join(failures)
    assert not [s for s in statuses if s >= 500]
    # It reached the routes: some requests succeeded, many were refused as invalid.
    assert sum(n for s, n in statuses.items() if s < 300) >= 20, statuses
    assert statuses[422] >= 30, statuses
    print(dict(sorted(statuses.items())))
