"""The ledger's batch handler behind the platform's InboxConsumer: duplicates dropped, a bad fact dead-lettered."""

from __future__ import annotations

from aiokafka import ConsumerRecord
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.postgres import PgLedgerUnitOfWork
from quanyi_ledger.application.verification import verify_journal
from quanyi_ledger.entrypoints.consumers import batch_handler
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import InboxConsumer, ReceivedEvent
from quanyi_platform.eventstore import EventStore, topic_for

from .conftest import fetch, received


def record(ev: ReceivedEvent, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = ev.envelope.SerializeToString()
    return ConsumerRecord(ev.topic, 0, offset, 0, 0, None, value, None, 0, len(value), [])


async def test_a_batch_with_a_duplicate_and_a_bad_fact_posts_the_rest_once_in_an_unbroken_chain(
    pool: AsyncConnectionPool, store: EventStore, database_url: str
) -> None:
    cny = Money(minor_units=1000, currency="CNY")
    captured = received(orders.PaymentCaptured(order_id="o1", provider="psp-sim", amount=cny), "o1")
    bad = received(orders.OrderPaid(order_id="o2", channel="web", total=Money(minor_units=5)), "o2")
    paid = received(orders.OrderPaid(order_id="o1", channel="web", total=cny), "o1")
    consumer = InboxConsumer(
        "ledger",
        [topic_for("orders"), topic_for("fulfillment")],
        batch_handler(lambda conn: PgLedgerUnitOfWork(store, conn=conn)),
        pool,
        PlatformSettings(database_url=database_url),
    )

    applied = await consumer.apply([record(e, i) for i, e in enumerate([captured, bad, paid, captured])])
    applied += await consumer.apply([record(captured, 0), record(paid, 2)])  # redelivered

    assert applied == 2
    entries = await fetch(pool, "SELECT seq, kind FROM journal_entries ORDER BY seq")
    assert [(e["seq"], e["kind"]) for e in entries] == [(1, "payment"), (2, "sale")]
    dead = await fetch(pool, "SELECT event_id, error FROM dead_letters")
    assert [str(d["event_id"]) for d in dead] == [bad.event_id]
    assert "UnbalancedEntry" in dead[0]["error"]
    result = await verify_journal(PgLedgerUnitOfWork(store, pool=pool))
    assert result.ok and result.entries == 2
    balances = await fetch(pool, "SELECT account, debit_total, credit_total FROM balances ORDER BY account")
    assert [(b["account"], b["debit_total"], b["credit_total"]) for b in balances] == [
        ("clearing:psp:psp-sim", 1000, 0), ("deposits:buyers", 1000, 1000), ("revenue:web", 0, 1000)
    ]
