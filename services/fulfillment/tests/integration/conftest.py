"""Fulfillment's integration world: real Postgres, a real SMTP server, and a tiny inventory and gateway over
gRPC (one server).

The inventory and contacts servicers are test doubles for the *other* services' contracts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from aiokafka.structs import ConsumerRecord
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import money_pb2
from quanyi.gateway.v1 import contacts_service_pb2 as contacts_pb
from quanyi.gateway.v1 import contacts_service_pb2_grpc as contacts_grpc
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.inventory.v1 import inventory_service_pb2_grpc as inventory_grpc
from quanyi_fulfillment import bootstrap
from quanyi_fulfillment.adapters.gateway_client import GrpcContacts
from quanyi_fulfillment.adapters.inventory_client import GrpcInventory
from quanyi_fulfillment.adapters.smtp_mailer import SmtpMailer
from quanyi_fulfillment.application.ports import UnitOfWorkFactory
from quanyi_fulfillment.config import Settings
from quanyi_fulfillment.domain.retry import RetryPolicy
from quanyi_fulfillment.entrypoints.email_sender import EmailSender
from quanyi_platform import rpc
from quanyi_platform.consumer import InboxConsumer
from quanyi_platform.envelope import Envelope, NewEvent, open_envelope, seal
from quanyi_platform.eventstore import EventStore, topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.testing.statements import counting_pool

SCHEMA = "fulfillment"


class FakeContacts(contacts_grpc.BuyerContactsServiceServicer):
    """The gateway's GetContacts over `emails` (buyer id -> address; "" is an account without one, absent
    is unknown) and `erased`; `calls` holds every request."""

    def __init__(self) -> None:
        self.emails: dict[str, str] = {}
        self.targets: dict[str, list[tuple[str, str]]] = {}  # buyer id -> kept (channel, target)
        self.erased: set[str] = set()
        self.calls: list[contacts_pb.GetContactsRequest] = []

    async def GetContacts(
        self, request: contacts_pb.GetContactsRequest, context: grpc.aio.ServicerContext
    ) -> contacts_pb.GetContactsResponse:
        self.calls.append(request)
        out = []
        for buyer_id in request.buyer_ids:
            if buyer_id in self.erased:
                out.append(contacts_pb.BuyerContact(buyer_id=buyer_id, status=contacts_pb.CONTACT_STATUS_ERASED))
            elif self.emails.get(buyer_id):
                out.append(contacts_pb.BuyerContact(
                    buyer_id=buyer_id, email=self.emails[buyer_id], status=contacts_pb.CONTACT_STATUS_ACTIVE,
                    targets=[contacts_pb.DeliveryTarget(channel=c, target=t)
                             for c, t in self.targets.get(buyer_id, [])],
                ))
            else:
                out.append(contacts_pb.BuyerContact(buyer_id=buyer_id, status=contacts_pb.CONTACT_STATUS_UNKNOWN))
        return contacts_pb.GetContactsResponse(contacts=out)


class FakeInventory(inventory_grpc.InventoryServiceServicer):
    """RevealKeys and RevealOrdersKeys over the keys the test reserved; records who asked and why.

    `calls` holds every order's reveal request, however it came; `batches` the RevealOrdersKeys calls.
    With `batched` False it answers RevealOrdersKeys UNIMPLEMENTED, as an inventory from before it.
    """

    def __init__(self) -> None:
        self.keys: dict[str, list[inventory_pb.RevealedKey]] = {}
        self.calls: list[inventory_pb.RevealKeysRequest] = []
        self.batches: list[inventory_pb.RevealOrdersKeysRequest] = []
        self.batched = True
        self.contacts = FakeContacts()  # served beside it: the gateway's part of the world

    def _reveal(self, request: inventory_pb.RevealKeysRequest) -> list[inventory_pb.RevealedKey] | None:
        self.calls.append(request)
        if request.order_id not in self.keys:
            return None
        wanted = set(request.key_ids)
        return [k for k in self.keys[request.order_id] if not wanted or k.key_id in wanted]

    async def RevealKeys(
        self, request: inventory_pb.RevealKeysRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb.RevealKeysResponse:
        keys = self._reveal(request)
        if keys is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        return inventory_pb.RevealKeysResponse(keys=keys)

    async def RevealOrdersKeys(
        self, request: inventory_pb.RevealOrdersKeysRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb.RevealOrdersKeysResponse:
        if not self.batched:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        self.batches.append(request)
        results = []
        for order in request.orders:
            keys = self._reveal(order)
            results.append(
                inventory_pb.OrderKeysRevealed(order_id=order.order_id, keys=keys)
                if keys is not None
                else inventory_pb.OrderKeysRevealed(
                    order_id=order.order_id, status_code=grpc.StatusCode.NOT_FOUND.value[0],
                    status_message="no such order",
                )
            )
        return inventory_pb.RevealOrdersKeysResponse(orders=results)


async def start_inventory(fake: FakeInventory, port: int) -> grpc.aio.Server:
    server = grpc.aio.server()
    inventory_grpc.add_InventoryServiceServicer_to_server(fake, server)
    contacts_grpc.add_BuyerContactsServiceServicer_to_server(fake.contacts, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


@dataclass
class Reserved:
    record: ConsumerRecord[bytes, bytes]
    event_id: str
    order_id: str
    codes: list[str]
    passwords: list[str]

    @property
    def secrets(self) -> list[str]:
        return [*self.codes, *(p for p in self.passwords if p)]


@dataclass
class World:
    pool: AsyncConnectionPool
    settings: Settings
    inventory: FakeInventory
    inventory_channel: grpc.aio.Channel
    gateway_channel: grpc.aio.Channel
    store: EventStore = field(default_factory=bootstrap.event_store)
    mailers: list[SmtpMailer] = field(default_factory=list)
    _offset: int = 0

    @property
    def policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.smtp_max_attempts, s.smtp_retry_base_s, s.smtp_retry_cap_s)

    def mailer(self, settings: Settings | None = None) -> SmtpMailer:
        """The service's mailer, as bootstrap builds it; the world closes it at the end of the test."""
        self.mailers.append(bootstrap.smtp_mailer(settings or self.settings))
        return self.mailers[-1]

    async def close(self) -> None:
        for mailer in self.mailers:
            await mailer.aclose()
        await self.inventory_channel.close()
        await self.gateway_channel.close()

    @property
    def uow(self) -> UnitOfWorkFactory:
        return bootstrap.unit_of_work(self.store, self.pool)

    def sender(self, uow: UnitOfWorkFactory | None = None, **overrides: Any) -> EmailSender:
        """The service's e-mail sender, as bootstrap builds it from the world's settings (`overrides`)."""
        settings = self.settings.model_copy(update=overrides)
        return bootstrap.email_sender(
            uow or self.uow, GrpcInventory(self.inventory_channel), self.mailer(settings), settings,
            GrpcContacts(self.gateway_channel),
        )

    def consumer(self, sender: EmailSender | None = None) -> InboxConsumer:
        return bootstrap.consumer(self.store, self.pool, self.settings, sender or self.sender())

    def reserve(self, keys: int = 2, email: str = "buyer@example.com", order_id: str | None = None,
                buyer_id: str | None = None) -> Reserved:
        """Inventory reserved `keys` keys for a new order: the keys exist in the fake, the event is built
        (with the buyer's id only). The gateway's fake knows `email` as the buyer's address ("": none)."""
        if buyer_id is None:  # one buyer per address: the gateway knows one address per buyer
            buyer_id = "buyer-1" if email == "buyer@example.com" else f"buyer-{email or 'without-address'}"
        self.inventory.contacts.emails[buyer_id] = email
        order_id = order_id or f"order-{uuid.uuid4().hex[:8]}"
        if order_id not in self.inventory.keys:
            self.inventory.keys[order_id] = [
                inventory_pb.RevealedKey(
                    key_id=f"key-{uuid.uuid4().hex[:12]}",
                    sku_id="sku-gold",
                    code=f"CODE-{uuid.uuid4().hex.upper()}",
                    password=f"PW-{uuid.uuid4().hex[:10]}" if n % 2 == 0 else "",
                )
                for n in range(keys)
            ]
        revealed = self.inventory.keys[order_id]
        payload = inventory_events.KeyReserved(
            order_id=order_id,
            buyer_id=buyer_id,
            channel="web",
            keys=[
                inventory_events.ReservedKey(
                    key_id=k.key_id, sku_id=k.sku_id, line_no=1, unit_no=n,
                    unit_cost=money_pb2.Money(minor_units=700, currency="CNY"),
                )
                for n, k in enumerate(revealed, start=1)
            ],
        )
        envelope = seal(NewEvent("Reservation", order_id, 1, payload, correlation_id=order_id), "inventory")
        return Reserved(self.record(envelope), envelope.event_id, order_id, [k.code for k in revealed],
                        [k.password for k in revealed])

    def record(self, envelope: Envelope) -> ConsumerRecord[bytes, bytes]:
        self._offset += 1
        value = envelope.SerializeToString()
        return ConsumerRecord(topic_for("inventory"), 0, self._offset, 0, 0, None, value, None, 0,
                              len(value), [])

    @staticmethod
    async def wait(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
        await wait_until(check, timeout)

    async def handle(self, *records: ConsumerRecord[bytes, bytes]) -> int:
        return await self.consumer().apply(list(records))

    async def rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
            await conn.rollback()
            return list(rows)

    async def events(self, event_type: str | None = None) -> list[tuple[Envelope, Any]]:
        rows = await self.rows("SELECT envelope FROM events ORDER BY seq")
        opened = [open_envelope(bytes(r["envelope"])) for r in rows]
        return [(e, p) for e, p in opened if event_type is None or e.type == event_type]

    async def assert_no_plaintext(self, secrets: list[str]) -> None:
        """I5: no code or password in any text or bytea column of any table in fulfillment's schema."""
        cols = await self.rows(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND data_type IN ('text', 'bytea', 'character varying', 'ARRAY',"
            " 'jsonb', 'json')",
            SCHEMA,
        )
        assert any(c["table_name"] == "events" for c in cols)
        for c in cols:
            query = sql.SQL("SELECT {}::text AS v, {} AS raw FROM {}").format(
                sql.Identifier(c["column_name"]), sql.Identifier(c["column_name"]),
                sql.Identifier(c["table_name"]),
            )
            async with self.pool.connection() as conn:
                cur = await conn.execute(query)
                values = await cur.fetchall()
                await conn.rollback()
            for row in values:
                raw = row["raw"]
                blob = bytes(raw) if isinstance(raw, bytes | bytearray | memoryview) else b""
                for secret in secrets:
                    where = f"{c['table_name']}.{c['column_name']}"
                    assert secret not in (row["v"] or ""), f"plaintext key in {where}"
                    assert secret.encode() not in blob, f"plaintext key in {where}"


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def inventory_port() -> int:
    return free_port()


@pytest.fixture
async def inventory(inventory_port: int) -> AsyncIterator[FakeInventory]:
    fake = FakeInventory()
    server = await start_inventory(fake, inventory_port)
    yield fake
    await server.stop(grace=None)


def make_world(pool: AsyncConnectionPool, database_url: str, smtp_port: int, fake: FakeInventory,
               inventory_port: int, **overrides: Any) -> World:
    values: dict[str, Any] = {
        "database_url": database_url,
        "smtp_port": smtp_port,
        "smtp_timeout_s": 5,
        "smtp_retry_base_s": 0.05,
        "inventory_grpc": f"127.0.0.1:{inventory_port}",
        # The fake gateway is served beside the fake inventory, and stays up when a test moves inventory.
        "gateway_grpc": f"127.0.0.1:{inventory_port}",
        **overrides,
    }
    settings = Settings(**values)
    return World(
        pool, settings, fake, rpc.channel(settings.inventory_grpc, 3.0), rpc.channel(settings.gateway_grpc, 3.0)
    )


@pytest.fixture
async def world(pool: AsyncConnectionPool, database_url: str, smtp_server: CapturingSmtpServer,
                inventory: FakeInventory, inventory_port: int) -> AsyncIterator[World]:
    w = make_world(pool, database_url, smtp_server.port, inventory, inventory_port)
    yield w
    await w.close()


@pytest.fixture
async def world_factory(
    pool: AsyncConnectionPool, database_url: str, inventory: FakeInventory, inventory_port: int
) -> AsyncIterator[Callable[..., World]]:
    """A world whose SMTP port (and other settings) the test chooses."""
    made: list[World] = []

    def make(smtp_port: int, **overrides: Any) -> World:
        made.append(make_world(pool, database_url, smtp_port, inventory, inventory_port, **overrides))
        return made[-1]

    yield make
    for w in made:
        await w.close()


@pytest.fixture
async def counted_pool(pool: AsyncConnectionPool, database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with counting_pool(database_url, SCHEMA) as p:
        yield p
