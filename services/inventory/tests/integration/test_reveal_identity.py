"""RevealKeys authenticates its caller: only fulfillment's identity reveals (the gateway for a buyer's own
order, purpose user-center), the audited actor is the identity the transport proved, and every refused
attempt is audited too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.inventory.v1 import events_pb2 as events
from quanyi.inventory.v1 import inventory_service_pb2 as pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.config import Settings
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_platform import rpc

from .conftest import SERVICE_TOKENS, Pay, StockSku, UowFactory, order_paid

StubAs = Callable[[str | None], pb_grpc.InventoryServiceStub]


@pytest.fixture
async def stub_as(settings: Settings, uow: UowFactory, keyring: Keyring) -> AsyncIterator[StubAs]:
    """Stubs of one inventory server, each calling with the token of the identity given (None: none;
    any other string: that string as a token)."""
    server = bootstrap.grpc_server(settings)
    pb_grpc.add_InventoryServiceServicer_to_server(
        InventoryServicer(
            uow, keyring, import_max_rows=1000, service_tokens=bootstrap.service_tokens(settings),
            reveal_policy=bootstrap.reveal_policy(settings),
        ),
        server,
    )
    port = server.add_insecure_port(settings.inventory_grpc_listen)
    await server.start()
    channels: list[grpc.aio.Channel] = []

    def make(identity: str | None) -> pb_grpc.InventoryServiceStub:
        token = "" if identity is None else SERVICE_TOKENS.get(identity, identity)
        channels.append(rpc.channel(f"127.0.0.1:{port}", deadline_s=30, token=token))
        return pb_grpc.InventoryServiceStub(channels[-1])

    try:
        yield make
    finally:
        for channel in channels:
            await channel.close()
        await server.stop(None)


async def audit(pool: AsyncConnectionPool, order_id: str) -> list[tuple[str, object]]:
    """The order's reveal audit events, in order: (type, decoded payload)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT event_type, envelope FROM events WHERE correlation_id = %s"
            " AND event_type IN (%s, %s) ORDER BY seq",
            (order_id, events.KeysRevealed.DESCRIPTOR.full_name, events.KeysRevealRefused.DESCRIPTOR.full_name),
        )
        found: list[tuple[str, object]] = []
        for row in await cur.fetchall():
            envelope = envelope_pb2.Envelope.FromString(bytes(row["envelope"]))
            message = events.KeysRevealed() if row["event_type"].endswith(".KeysRevealed") else events.KeysRevealRefused()
            message.ParseFromString(envelope.payload)
            found.append((row["event_type"].rsplit(".", 1)[-1], message))
        return found


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code()


async def test_fulfillment_reveals_and_is_the_audited_actor_whatever_actor_it_names(
    stub_as: StubAs, stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    revealed = await stub_as("fulfillment").RevealKeys(
        pb.RevealKeysRequest(order_id="o-1", actor="buyer:b1", purpose="delivery")
    )
    assert [k.code for k in revealed.keys] == ["K-1"]
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealed"
    assert isinstance(record, events.KeysRevealed)
    assert (record.actor, record.on_behalf_of, record.purpose) == ("fulfillment", "buyer:b1", "delivery")


@pytest.mark.parametrize(
    ("identity", "purpose", "code", "reason"),
    [
        ("orders", "delivery", grpc.StatusCode.PERMISSION_DENIED, "permission_denied"),
        ("gateway", "delivery", grpc.StatusCode.PERMISSION_DENIED, "permission_denied"),
        (None, "delivery", grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
        ("forged-token", "delivery", grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
    ],
)
async def test_a_reveal_by_any_other_identity_is_refused_and_audited_as_refused(
    stub_as: StubAs, stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool,
    identity: str | None, purpose: str, code: grpc.StatusCode, reason: str,
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    # Naming fulfillment as the actor changes nothing: the transport says who calls.
    request = pb.RevealKeysRequest(order_id="o-1", actor="fulfillment", purpose=purpose)
    assert await code_of(stub_as(identity).RevealKeys(request)) == code
    [(kind, record)] = await audit(pool, "o-1")
    assert kind == "KeysRevealRefused" and isinstance(record, events.KeysRevealRefused)
    expected_identity = identity if identity in SERVICE_TOKENS else ""
    assert (record.identity, record.reason, record.on_behalf_of, record.purpose) == (
        expected_identity, reason, "fulfillment", purpose
    )
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM key_reveals WHERE order_id = 'o-1'")
        assert (await cur.fetchone())["n"] == 0


async def test_the_gateway_may_show_a_buyer_the_keys_of_their_order_and_is_audited_as_the_gateway(
    stub_as: StubAs, stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool
) -> None:
    sku = await stock_sku(["K-1"])
    await pay(order_paid("o-1", [(sku, 1)]))
    revealed = await stub_as("gateway").RevealKeys(
        pb.RevealKeysRequest(order_id="o-1", actor="buyer:b1", purpose="user-center")
    )
    assert len(revealed.keys) == 1
    [(_, record)] = await audit(pool, "o-1")
    assert isinstance(record, events.KeysRevealed) and record.actor == "gateway"


async def test_a_batch_reveal_refuses_each_order_of_a_caller_that_may_not_reveal(
    stub_as: StubAs, stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool
) -> None:
    sku = await stock_sku(["K-1", "K-2"])
    await pay(order_paid("o-1", [(sku, 1)]), order_paid("o-2", [(sku, 1)]))
    response = await stub_as("orders").RevealOrdersKeys(pb.RevealOrdersKeysRequest(orders=[
        pb.RevealKeysRequest(order_id="o-1", actor="fulfillment", purpose="delivery"),
        pb.RevealKeysRequest(order_id="o-2", actor="fulfillment", purpose="delivery"),
    ]))
    assert [(r.status_code, len(r.keys)) for r in response.orders] == [
        (grpc.StatusCode.PERMISSION_DENIED.value[0], 0)
    ] * 2
    assert [kind for kind, _ in await audit(pool, "o-1") + await audit(pool, "o-2")] == ["KeysRevealRefused"] * 2
    # Fulfillment may, but only the keys the named order holds.
    other = await stub_as("fulfillment").RevealKeys(pb.RevealKeysRequest(order_id="o-2", actor="f"))
    assert await code_of(stub_as("fulfillment").RevealKeys(
        pb.RevealKeysRequest(order_id="o-1", actor="f", key_ids=[other.keys[0].key_id])
    )) == grpc.StatusCode.NOT_FOUND
