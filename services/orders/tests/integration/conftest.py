"""Orders against a fresh Postgres database: the gRPC service on a free port, a payment provider, a probe."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.psp_signature import NoticeVerifier, load_public_key, sign_notice
from quanyi_orders.bootstrap import servicer
from quanyi_platform import rpc
from quanyi_platform.eventstore import EventStore


@pytest.fixture
def unit_of_work(pool: AsyncConnectionPool, store: EventStore) -> Callable[[], PgOrdersUnitOfWork]:
    return lambda: PgOrdersUnitOfWork(store, pool=pool)


@pytest.fixture(scope="session")
def psp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Psp:
    """The payment provider's side: signs notices the way the gateway's simulator does."""

    key: rsa.RSAPrivateKey

    def notice(
        self, order: pb.Order, *, txn_id: str = "txn-1", minor_units: int | None = None,
        currency: str | None = None, nonce: str | None = None, timestamp: int | None = None,
        body: bytes | None = None,
    ) -> pb.HandlePaymentNoticeRequest:
        if body is None:
            body = json.dumps({
                "notice_id": f"n-{uuid.uuid4().hex[:8]}", "order_id": order.order_id, "txn_id": txn_id,
                "status": "SUCCESS",
                "amount": {
                    "minor_units": order.total.minor_units if minor_units is None else minor_units,
                    "currency": currency or order.total.currency,
                },
            }).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or uuid.uuid4().hex
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pb.HandlePaymentNoticeRequest(
            provider="psp-sim", body=body, signature=sign_notice(pem, body, ts, nonce), timestamp=ts,
            nonce=nonce, serial="sim-1",
        )


@pytest.fixture
def psp(psp_key: rsa.RSAPrivateKey) -> Psp:
    return Psp(psp_key)


@pytest.fixture
async def orders(
    pool: AsyncConnectionPool, store: EventStore, psp_key: rsa.RSAPrivateKey
) -> AsyncIterator[pb_grpc.OrdersServiceStub]:
    public_pem = psp_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    verifier = NoticeVerifier("psp-sim", load_public_key(pem=public_pem), 300)
    server = rpc.server()
    pb_grpc.add_OrdersServiceServicer_to_server(servicer(pool, store, verifier), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = rpc.channel(f"127.0.0.1:{port}")
    try:
        yield pb_grpc.OrdersServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(None)


class Probe:
    """Reads what the service wrote."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def event_types(self, order_id: str) -> list[str]:
        """The order's event types in order; checks versions count from 1 and the correlation id."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_type, aggregate_version, correlation_id FROM events"
                " WHERE aggregate_type = 'Order' AND aggregate_id = %s ORDER BY seq",
                (order_id,),
            )
            rows: list[Any] = await cur.fetchall()
        assert [r["aggregate_version"] for r in rows] == list(range(1, len(rows) + 1))
        assert all(r["correlation_id"] == order_id for r in rows)
        return [r["event_type"].rsplit(".", 1)[1] for r in rows]

    async def count(self, table: str) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM {table}")
            row: Any = await cur.fetchone()
        return int(row["n"])

    async def counts(self) -> dict[str, int]:
        return {t: await self.count(t) for t in ("orders", "events", "payments", "payment_notices", "refunds")}


@pytest.fixture
def probe(pool: AsyncConnectionPool) -> Probe:
    return Probe(pool)
