"""`python -m quanyi_orders` as a process on the real broker and Postgres: orders placed and paid over gRPC,
risk's, inventory's and fulfillment's events in through the topics, its own events out through the relay,
and its projections rebuilt from the store and from the topic equal live (I6)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf.message import Message
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import NewEvent, kafka_headers, seal
from quanyi_platform.eventstore import topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.testing.replay import assert_replay_matches_live

from services.orders.tests.integration.conftest import Psp

TOPICS = [topic_for(s) for s in ("orders", "risk", "inventory", "fulfillment")]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


def cny(minor: int) -> money_pb2.Money:
    return money_pb2.Money(minor_units=minor, currency="CNY")


class Peers:
    """Risk, inventory and fulfillment, as orders hears them: their events on their topics."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def send(self, service: str, order_id: str, payload: Message, twice: bool = False) -> str:
        env = seal(NewEvent(service.title(), order_id, 1, payload, correlation_id=order_id), service)
        for _ in range(2 if twice else 1):
            await self._producer.send_and_wait(
                topic_for(service), env.SerializeToString(), key=order_id.encode(), headers=kafka_headers(env)
            )
        return str(env.event_id)

    async def risk(self, order_id: str, decision: Any, *reasons: str, twice: bool = False) -> str:
        decided = risk_events.RiskDecided(order_id=order_id, buyer_id="b", decision=decision, reasons=reasons)
        return await self.send("risk", order_id, decided, twice)

    async def delivered(self, order_id: str) -> str:
        return await self.send("fulfillment", order_id, fulfillment_events.KeyDelivered(order_id=order_id))

    async def short(self, order_id: str) -> str:
        return await self.send("inventory", order_id, inventory_events.StockShort(order_id=order_id))


async def test_the_service_takes_orders_through_their_lives_and_its_projections_replay_to_live(
    broker: Any, database_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    psp = Psp(key)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QUANYI_DATABASE_URL": database_url,
        "QUANYI_KAFKA_BOOTSTRAP": broker.bootstrap,
        "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "QUANYI_ORDERS_GRPC_LISTEN": listen,
        "QUANYI_PSP_PUBLIC_KEY_PEM": public_pem,
    }
    await ensure_topics(PlatformSettings(kafka_bootstrap=broker.bootstrap), TOPICS)
    log_path = tmp_path / "orders.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "quanyi_orders"], env=env, stdout=log, stderr=subprocess.STDOUT)
    channel = rpc.channel(listen, 5.0)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        stub = pb_grpc.OrdersServiceStub(channel)
        peers = Peers(producer)
        # Ready: migrated, serving, and its consumer has joined the group (a busy machine takes a while).
        await eventually(lambda: rpc.is_ready(channel, 1.0), timeout=120)

        async def place(n: int, buyer: str = "") -> pb.Order:
            reply = await stub.PlaceOrder(pb.PlaceOrderRequest(
                buyer_id=buyer or f"{run}-buyer-{n % 3}", buyer_email="b@example.com", channel="web",
                idempotency_key=f"{run}-key-{n}",
                items=[pb.OrderItem(sku_id="sku-a", quantity=1 + n % 2, unit_price=cny(1000 + n)),
                       pb.OrderItem(sku_id="sku-b", quantity=1, unit_price=cny(99))],
            ))
            return reply.order

        async def status(order_id: str) -> str:
            return str((await stub.GetOrder(pb.GetOrderRequest(order_id=order_id))).order.status)

        def statuses_are(expected: dict[str, str]) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return all([await status(o) == s for o, s in expected.items()])
            return check

        orders = [await place(n) for n in range(12)]
        assert (await place(0)).order_id == orders[0].order_id  # the same key: the same order
        ids = [o.order_id for o in orders]
        # Paid: 0-7 and 9 (a second notice for 0's transaction is a duplicate); 11 later; 8 and 10 never.
        for o in [*orders[:8], orders[9]]:
            assert not (await stub.HandlePaymentNotice(psp.notice(o, txn_id=f"{run}-txn-{o.order_id}"))).duplicate
        again = await stub.HandlePaymentNotice(psp.notice(orders[0], txn_id=f"{run}-txn-{ids[0]}"))
        assert again.duplicate
        wrong = psp.notice(orders[8], minor_units=1)  # recorded, and refunded; the order still awaits payment
        assert not (await stub.HandlePaymentNotice(wrong)).duplicate

        # Risk: most approved (one delivered twice); 5 held for review, 6 rejected after payment,
        # 10 rejected before it, 11 approved before it; and a decision about an order orders never had.
        for i in (0, 1, 2, 3, 4, 7, 9):
            await peers.risk(ids[i], risk_events.DECISION_APPROVE, twice=i == 0)
        await peers.risk(ids[5], risk_events.DECISION_REVIEW, "velocity")
        await peers.risk(ids[6], risk_events.DECISION_REJECT)
        await peers.risk(ids[10], risk_events.DECISION_REJECT)
        await peers.risk(ids[11], risk_events.DECISION_APPROVE)
        ghost = await peers.risk(f"{run}-no-such-order", risk_events.DECISION_APPROVE)
        await eventually(statuses_are({
            **{ids[i]: "PAID" for i in (0, 1, 2, 3, 4, 7, 9)},
            ids[5]: "UNDER_REVIEW", ids[6]: "REFUNDED", ids[10]: "CANCELLED", ids[11]: "PENDING_PAYMENT",
        }))
        reviewed = await stub.ReviewOrder(pb.ReviewOrderRequest(order_id=ids[5], approve=True, reviewer="ops"))
        assert reviewed.order.status == "PAID"
        await stub.HandlePaymentNotice(psp.notice(orders[11], txn_id=f"{run}-txn-{ids[11]}"))
        assert await status(ids[11]) == "PAID"

        # Fulfilment: delivered, one short of stock, one delivered twice.
        for i in (0, 1, 2, 5, 9, 11):
            await peers.delivered(ids[i])
        await peers.delivered(ids[1])
        await peers.short(ids[3])
        await eventually(statuses_are({
            **{ids[i]: "FULFILLED" for i in (0, 1, 2, 5, 9, 11)}, ids[3]: "REFUNDED",
            ids[4]: "PAID", ids[7]: "PAID", ids[8]: "PENDING_PAYMENT",
        }))

        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            cur = await conn.execute("SELECT count(*) FROM orders.dead_letters WHERE event_id = %s", (ghost,))
            assert (await cur.fetchone()) == (1,)
            cur = await conn.execute(
                "SELECT count(*) FROM orders.events WHERE aggregate_id = %s AND event_type LIKE '%%.OrderPaid'",
                (ids[0],),
            )
            assert (await cur.fetchone()) == (1,)

        await assert_replay_matches_live(database_url, "orders", kafka_bootstrap=broker.bootstrap)
    finally:
        await producer.stop()
        await channel.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "the service did not stop cleanly on SIGTERM"
    assert "consumer started" in log_path.read_text()
