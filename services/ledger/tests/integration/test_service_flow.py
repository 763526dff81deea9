"""`python -m quanyi_ledger` as a process on the real broker and Postgres: financial facts in, a verified
journal and balances out over gRPC, EntriesPosted on its topic, and its projections rebuilt from its events
(from the store and from the topic) equal live (I6)."""

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

from aiokafka import AIOKafkaProducer
from psycopg import AsyncConnection
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_platform import rpc
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import ReceivedEvent
from quanyi_platform.envelope import kafka_headers
from quanyi_platform.eventstore import topic_for
from quanyi_platform.infra.ports import free_port
from quanyi_platform.kafka import ensure_topics
from quanyi_platform.testing.replay import assert_replay_matches_live

from .conftest import received
from .facts import delivered, refunded, sale


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


async def scalar(database_url: str, query: str, *params: Any) -> Any:
    async with await AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
        return row[0] if row else None


async def test_the_service_posts_facts_from_the_topics_and_its_balances_replay_to_live(
    broker: Any, database_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    channel_name = f"ch-{run}"  # the run's own accounts: other tests' facts may share the topics
    facts: list[ReceivedEvent] = []
    for i in range(30):
        order = f"{run}-{i}"
        facts += [*sale(order, channel_name, 1000 + i), delivered(order, channel_name, 300, 100)]
        if i % 10 == 3:
            facts.append(refunded(order, channel_name, 1000 + i, True))
    bad = received(orders.OrderPaid(order_id=f"{run}-bad", channel=channel_name, total=Money(minor_units=5)),
                   f"{run}-bad")
    facts.insert(7, bad)
    facts.append(facts[0])  # heard twice

    listen = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QUANYI_DATABASE_URL": database_url,
        "QUANYI_KAFKA_BOOTSTRAP": broker.bootstrap,
        "QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "QUANYI_LEDGER_GRPC_LISTEN": listen,
    }
    topics = [topic_for("orders"), topic_for("fulfillment"), topic_for("ledger")]
    await ensure_topics(PlatformSettings(kafka_bootstrap=broker.bootstrap), topics)
    log_path = tmp_path / "ledger.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "quanyi_ledger"], env=env, stdout=log, stderr=subprocess.STDOUT)
    channel = rpc.channel(listen, 5.0)
    try:
        stub = pb_grpc.LedgerServiceStub(channel)
        # Migrated and serving: a start on a busy machine took 8.5 s, past the 5 s call default.
        await stub.GetBalances(pb.GetBalancesRequest(), wait_for_ready=True, timeout=60)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for ev in facts:
                await producer.send_and_wait(
                    ev.topic, ev.envelope.SerializeToString(), key=ev.envelope.aggregate_id.encode(),
                    headers=kafka_headers(ev.envelope),
                )
        finally:
            await producer.stop()

        posted = len(facts) - 2  # the bad fact and the repeat post nothing

        async def all_posted() -> bool:
            n = await scalar(
                database_url, "SELECT count(*) FROM ledger.journal_entries WHERE correlation_id LIKE %s", f"{run}-%"
            )
            return bool(n == posted)

        await eventually(all_posted)
        await eventually(lambda: _dead_lettered(database_url, bad.event_id))

        balances = await stub.GetBalances(pb.GetBalancesRequest(account_prefix=f"revenue:{channel_name}"))
        assert [(b.account, b.balance_minor) for b in balances.balances] == [
            (f"revenue:{channel_name}", -sum(1000 + i for i in range(30)))
        ]
        refunds = await stub.GetBalances(pb.GetBalancesRequest(account_prefix=f"refunds:{channel_name}"))
        assert [b.balance_minor for b in refunds.balances] == [1003 + 1013 + 1023]
        cogs = await stub.GetBalances(pb.GetBalancesRequest(account_prefix=f"cogs:{channel_name}"))
        assert [b.balance_minor for b in cogs.balances] == [30 * 400]
        verification = await stub.VerifyJournal(pb.VerifyJournalRequest())
        assert verification.ok, list(verification.problems)

        await assert_replay_matches_live(database_url, "ledger", kafka_bootstrap=broker.bootstrap)
    finally:
        await channel.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "the service did not stop cleanly on SIGTERM"
    assert "consumer started" in log_path.read_text()


async def _dead_lettered(database_url: str, event_id: str) -> bool:
    n = await scalar(database_url, "SELECT count(*) FROM ledger.dead_letters WHERE event_id = %s::uuid", event_id)
    return bool(n == 1)
