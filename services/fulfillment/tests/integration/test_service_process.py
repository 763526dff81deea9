"""`python -m quanyi_fulfillment` as a process: broker in, e-mail and gRPC out, nothing secret in its logs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.fulfillment.v1 import fulfillment_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.kafka import ensure_topics

DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name


async def published_key_delivered(bootstrap: str, order_id: str, timeout: float = 30) -> Any:
    consumer = AIOKafkaConsumer(topic_for("fulfillment"), bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    env, payload = open_envelope(bytes(r.value or b""))
                    if env.type == DELIVERED and env.aggregate_id == order_id:
                        return payload
        raise AssertionError("KeyDelivered was not published")
    finally:
        await consumer.stop()


async def test_the_service_delivers_a_reservation_from_the_topic_and_answers_over_grpc(
    world: Any, broker: Any, smtp_server: CapturingSmtpServer, database_url: str, tmp_path: Path
) -> None:
    reserved = world.reserve(keys=2, buyer_id="buyer-e2e")
    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QUANYI_DATABASE_URL": database_url,
        "QUANYI_KAFKA_BOOTSTRAP": broker.bootstrap,
        "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "QUANYI_INVENTORY_GRPC": world.settings.inventory_grpc,
        "QUANYI_SMTP_PORT": str(smtp_server.port),
        "QUANYI_FULFILLMENT_GRPC_LISTEN": listen,
        "QUANYI_LOG_LEVEL": "DEBUG",
    }
    await ensure_topics(PlatformSettings(kafka_bootstrap=broker.bootstrap),
                        [topic_for("inventory"), topic_for("fulfillment")])
    log_path = tmp_path / "fulfillment.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "quanyi_fulfillment"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic_for("inventory"), reserved.record.value,
                                         key=reserved.order_id.encode())
        finally:
            await producer.stop()

        mail = await smtp_server.wait_for_async(lambda m: reserved.order_id in str(m["Subject"]), timeout=60)
        delivered = await published_key_delivered(broker.bootstrap, reserved.order_id)
        channel = rpc.channel(listen, 5.0)
        try:
            listed = await pb_grpc.FulfillmentServiceStub(channel).ListDeliveries(
                pb.ListDeliveriesRequest(buyer_id="buyer-e2e"), wait_for_ready=True
            )
        finally:
            await channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, "the service did not stop cleanly on SIGTERM"
    assert all(s in mail.get_content() for s in reserved.codes)
    assert list(delivered.channels) == ["user_center", "email"]
    assert sorted(d.key_id for d in listed.deliveries) == sorted(
        k.key_id for k in world.inventory.keys[reserved.order_id]
    )
    logs = log_path.read_text()
    assert "consumer started" in logs
    assert not any(s in logs for s in reserved.secrets), "a card key reached the service's log"
    await world.assert_no_plaintext(reserved.secrets)
