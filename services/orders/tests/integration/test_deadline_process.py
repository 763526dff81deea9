"""The delivery deadline and the channel entries of the exception queue, with `python -m quanyi_orders` as a
process on the real broker and Postgres. An order paid and released (risk's approval through its topic) but
never delivered is queued by the deadline step (the poller's own step, run at an instant past the
deadline: the deadline is ten minutes, a constant of the projection), and the process's relay publishes
the OrderQueued; fulfillment's KeyDelivered through its topic then shows the entry resolved "delivered".
A DeliveryFailed (final) of a further channel after that queues the fulfilled order again, source
"channel", and it stays open; the projections replay to live (I6)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi.orders.v1 import orders_service_pb2_grpc as pb_grpc
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application.saga_steps import SagaSettings, SagaSteps
from quanyi_orders.bootstrap import MIGRATIONS, NAME, event_store
from quanyi_platform import db, rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.testing.replay import assert_replay_matches_live

from services.orders.tests.integration.conftest import Psp
from services.orders.tests.integration.test_service_flow import TOPICS, Peers, cny, eventually


async def test_an_undelivered_order_is_queued_at_its_deadline_and_a_late_channel_failure_after_delivery(
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
        **os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "QUANYI_DATABASE_URL": database_url,
        "QUANYI_KAFKA_BOOTSTRAP": broker.bootstrap, "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "QUANYI_ORDERS_GRPC_LISTEN": listen, "QUANYI_PSP_PUBLIC_KEY_PEM": public_pem,
        # No inventory runs here: the stock holds go on with the caps alone (fail-open), quickly.
        "QUANYI_INVENTORY_GRPC": f"127.0.0.1:{free_port()}",
    }
    await ensure_topics(PlatformSettings(kafka_bootstrap=broker.bootstrap), TOPICS)
    log_path = tmp_path / "orders.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "quanyi_orders"], env=env, stdout=log, stderr=subprocess.STDOUT)
    channel = rpc.channel(listen, 5.0)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    await db.migrate(database_url, NAME, MIGRATIONS)
    pool = await db.create_pool(database_url, NAME, 1, 2)
    store = event_store()
    try:
        stub = pb_grpc.OrdersServiceStub(channel)
        peers = Peers(producer)
        await eventually(lambda: rpc.is_ready(channel, 1.0), timeout=120)
        order = (await stub.PlaceOrder(pb.PlaceOrderRequest(
            buyer_id=f"{run}-buyer", channel="web", idempotency_key=f"{run}-k", client_ip="203.0.113.9",
            items=[pb.OrderItem(sku_id="sku-a", quantity=1, unit_price=cny(1990))],
        ))).order
        await stub.HandlePaymentNotice(psp.notice(order, txn_id=f"{run}-txn"))
        await peers.risk(order.order_id, risk_events.DECISION_APPROVE)

        async def status_is(expected: str) -> bool:
            return (await stub.GetOrder(pb.GetOrderRequest(order_id=order.order_id))).order.status == expected

        await eventually(lambda: status_is("PAID"))

        async def entry() -> pb.QueueEntry | None:
            reply = await stub.ListExceptionQueue(pb.ListExceptionQueueRequest(include_resolved=True))
            return next((e for e in reply.entries if e.order_id == order.order_id), None)

        # Before its deadline the step leaves it alone; past it, the order is queued once.
        steps = SagaSteps(lambda: PgOrdersUnitOfWork(store, pool=pool), _no_capture, {}, SagaSettings())
        now = datetime.now(UTC)
        assert await steps.queue_overdue(now) == 0
        assert await steps.queue_overdue(now + timedelta(minutes=11)) == 1
        assert await steps.queue_overdue(now + timedelta(minutes=12)) == 0
        queued = await entry()
        assert queued is not None and (queued.source, queued.status) == ("deadline", "OPEN")
        assert "not delivered within 10 minutes" in queued.reason
        await _published(broker.bootstrap, order.order_id, "OrderQueued")  # the relay sent it on

        # Delivered late: the entry shows resolved by the order's delivery.
        await peers.delivered(order.order_id)
        await eventually(lambda: status_is("FULFILLED"))
        resolved = await entry()
        assert resolved is not None and (resolved.status, resolved.resolution) == ("RESOLVED", "delivered")

        # A further channel gives up after delivery: queued again, source "channel", and it stays open.
        failed = fulfillment_events.DeliveryFailed(
            order_id=order.order_id, attempt=5, reason="mail server refused", final=True, channel="email"
        )
        await peers.send("fulfillment", order.order_id, failed)

        async def reopened() -> bool:
            e = await entry()
            return e is not None and (e.source, e.status) == ("channel", "OPEN")

        await eventually(reopened)
        assert (await entry()).reason.startswith("email delivery given up after 5 attempts")  # type: ignore[union-attr]
        assert await status_is("FULFILLED")
        await assert_replay_matches_live(database_url, "orders", kafka_bootstrap=broker.bootstrap)
    finally:
        await pool.close()
        await producer.stop()
        await channel.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "the service did not stop cleanly on SIGTERM"
    assert "203.0.113.9" not in log_path.read_text()


async def _no_capture(_: Any) -> Any:
    raise AssertionError("no payment is looked for in this test")


async def _published(bootstrap: str, order_id: str, kind: str, timeout: float = 30) -> None:
    """Wait until orders' topic carries an event of `kind` about the order."""
    consumer = AIOKafkaConsumer(
        topic_for("orders"), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        group_id=f"probe-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    envelope, _ = open_envelope(record.value)
                    if envelope.aggregate_id == order_id and envelope.type.endswith(f".{kind}"):
                        return
        raise AssertionError(f"no {kind} of {order_id} on {topic_for('orders')}")
    finally:
        await consumer.stop()
