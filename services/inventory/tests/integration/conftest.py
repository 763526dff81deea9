"""Inventory against real Postgres: a migrated schema per test, a real gRPC server, and helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory import bootstrap
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.adapters.postgres import PgInventoryUnitOfWork
from quanyi_inventory.application import catalogue, import_keys
from quanyi_inventory.config import Settings
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.entrypoints.consumers import order_paid_handler
from quanyi_inventory.entrypoints.grpc_server import InventoryServicer
from quanyi_platform import db, rpc
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import new_event_id
from quanyi_platform.eventstore import EventStore

SCHEMA = "inventory"


# The development identities the tests' inventory knows (quanyi_platform.identity); `stub` calls as
# fulfillment, `stub_as(identity)` as another.
SERVICE_TOKENS = {"fulfillment": "token-of-fulfillment", "gateway": "token-of-gateway", "orders": "token-of-orders"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, inventory_grpc_listen="127.0.0.1:0",
        inventory_service_tokens=json.dumps(SERVICE_TOKENS),
    )


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(settings.database_url, SCHEMA, ["quanyi_inventory.migrations"])
    pool = await db.create_pool(settings.database_url, SCHEMA, min_size=1, max_size=60)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def store() -> EventStore:
    return bootstrap.event_store()


UowFactory = Callable[[], PgInventoryUnitOfWork]


@pytest.fixture
def uow(pool: AsyncConnectionPool, store: EventStore) -> UowFactory:
    """A new Postgres unit of work on its own transaction, each call."""
    return lambda: PgInventoryUnitOfWork(store, pool=pool)


Pay = Callable[..., Awaitable[None]]


@pytest.fixture
def pay(pool: AsyncConnectionPool, store: EventStore) -> Pay:
    """Hand OrderPaid events to inventory's batch handler as its consumer does: one batch, one transaction."""
    handler = order_paid_handler(store)

    async def run(*events: ReceivedEvent) -> None:
        async with pool.connection() as conn, conn.transaction():
            await handler.apply(conn, list(events))

    return run


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    return bootstrap.keyring(settings)


@pytest.fixture
async def stub(
    settings: Settings, uow: UowFactory, keyring: Keyring
) -> AsyncIterator[pb_grpc.InventoryServiceStub]:
    server = bootstrap.grpc_server(settings)
    pb_grpc.add_InventoryServiceServicer_to_server(
        InventoryServicer(
            uow, keyring, import_max_rows=settings.inventory_import_max_rows,
            service_tokens=bootstrap.service_tokens(settings), reveal_policy=bootstrap.reveal_policy(settings),
        ),
        server,
    )
    port = server.add_insecure_port(settings.inventory_grpc_listen)
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}", deadline_s=120, token=SERVICE_TOKENS["fulfillment"])
    try:
        yield pb_grpc.InventoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(None)


StockSku = Callable[..., Awaitable[str]]


@pytest.fixture
def stock_sku(uow: UowFactory, keyring: Keyring) -> StockSku:
    """Create a product, a SKU and a pool, import `codes` into it, and return the SKU id."""

    async def make(codes: Sequence[str], threshold: int = 0, unit_cost: int = 500) -> str:
        product = await catalogue.create_product(uow(), name="Steam wallet", kind="card_key")
        sku = await catalogue.create_sku(
            uow(), product_id=product.product_id, name="Steam 100", price=Money(1000, "CNY"),
            low_stock_threshold=threshold,
        )
        key_pool = await catalogue.create_pool(uow(), sku_id=sku.sku_id, name="main")
        await import_codes(uow, keyring, key_pool.pool_id, codes, unit_cost)
        return sku.sku_id

    return make


async def import_codes(
    uow: UowFactory, keyring: Keyring, pool_id: str, codes: Sequence[str], unit_cost: int = 500
) -> import_keys.ImportResult:
    csv = ("code\n" + "".join(f"{c}\n" for c in codes)).encode()
    batch = import_keys.prepare_batch(keyring, csv, 1_000_000)
    return await import_keys.store_batch(
        uow(), batch, pool_id=pool_id, unit_cost=Money(unit_cost, "CNY"), actor="test"
    )


def order_paid(order_id: str, lines: Sequence[tuple[str, int]]) -> ReceivedEvent:
    """An OrderPaid as the consumer would receive it; `lines` are (sku_id, quantity), numbered from 1."""
    payload = orders_events.OrderPaid(
        order_id=order_id,
        buyer_id=f"buyer-{order_id}",
        channel="web",
        buyer_email="buyer@example.com",
        lines=[
            orders_events.OrderLine(line_no=i, sku_id=sku_id, quantity=quantity)
            for i, (sku_id, quantity) in enumerate(lines, start=1)
        ],
    )
    envelope = envelope_pb2.Envelope(
        event_id=new_event_id(),
        type=orders_events.OrderPaid.DESCRIPTOR.full_name,
        aggregate_type="Order",
        aggregate_id=order_id,
        aggregate_version=3,
        correlation_id=order_id,
        producer="orders",
        payload=payload.SerializeToString(),
    )
    return ReceivedEvent(envelope, payload, "quanyi.orders.v1", 0, 0)


@pytest.fixture
def paid() -> Callable[[str, Sequence[tuple[str, int]]], ReceivedEvent]:
    return order_paid
