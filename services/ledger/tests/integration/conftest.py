"""Helpers to feed the ledger facts as its consumer does, and to read its schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.message import Message
from psycopg_pool import AsyncConnectionPool
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_ledger.adapters.catalogue import FixedCatalogue
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.adapters.signing import Ed25519Signer
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_ledger.entrypoints.grpc_server import LedgerServicer
from quanyi_platform import rpc
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import Envelope, new_event_id, type_name
from quanyi_platform.eventstore import EventStore


def received(
    payload: Message, order_id: str, *, event_id: str | None = None, topic: str = ""
) -> ReceivedEvent:
    """An event as the InboxConsumer would hand it to a handler."""
    env = Envelope(
        event_id=event_id or new_event_id(),
        type=type_name(payload),
        aggregate_type="Order",
        aggregate_id=order_id,
        aggregate_version=1,
        correlation_id=order_id,
        producer=topic.split(".")[1] if topic else "orders",
        payload=payload.SerializeToString(),
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    return ReceivedEvent(env, payload, topic or "quanyi.orders.v1", 0, 0)


async def deliver(pool: AsyncConnectionPool, store: EventStore, *events: ReceivedEvent) -> None:
    """Apply events with the ledger's batch handler in one transaction, as one consumer batch does."""
    handler = batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn))
    async with pool.connection() as conn, conn.transaction():
        await handler.apply(conn, list(events))


async def fetch(pool: AsyncConnectionPool, query: str, *params: Any) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall())


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate()


@pytest.fixture
async def ledger_address(pool: AsyncConnectionPool, store: EventStore, signer: Ed25519Signer) -> AsyncIterator[str]:
    """LedgerService on a real grpc.aio server over the test database: its address."""
    server = rpc.server()
    pb_grpc.add_LedgerServiceServicer_to_server(
        LedgerServicer(
            lambda: PgLedgerUnitOfWork(store, pool=pool),
            signer,
            FixedCatalogue({"sku-a": "product-1", "sku-b": "product-1", "sku-c": "product-2"}),
        ),
        server,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def ledger(ledger_address: str) -> AsyncIterator[pb_grpc.LedgerServiceStub]:
    channel = rpc.channel(ledger_address)
    try:
        yield pb_grpc.LedgerServiceStub(channel)
    finally:
        await channel.close()
