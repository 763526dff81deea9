"""The `orders` projection against Postgres, over random lives of orders driven through the use cases:
each row equals the fold of its order's recorded events, and the payment tables hold exactly the recorded
notices and captures; all of it rebuilt in one pass from the store equals live (I6)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.adapters.proto_mapping import event_from_proto
from quanyi_orders.bootstrap import MIGRATIONS, NAME, event_store
from quanyi_orders.domain.order import fold
from quanyi_platform import db
from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.replay import assert_replay_matches_live

from services.orders.tests.scenarios import Scenario, lines, steps


async def _rows(pool: AsyncConnectionPool, query: str, *params: Any) -> list[Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        rows: list[Any] = await cur.fetchall()
        return rows


async def _check(pool: AsyncConnectionPool, store: EventStore, priced: list[Any], taken: list[Any]) -> None:
    s = Scenario.new(lambda: PgOrdersUnitOfWork(store, pool=pool))
    await s.place(priced)
    await s.run(taken)
    recorded = await _rows(
        pool, "SELECT envelope, occurred_at FROM events WHERE aggregate_type = 'Order' AND aggregate_id = %s"
        " ORDER BY seq", s.order_id,
    )
    events = [event_from_proto(open_envelope(bytes(r["envelope"]))[1], r["occurred_at"]) for r in recorded]  # type: ignore[arg-type]
    async with PgOrdersUnitOfWork(store, pool=pool) as uow:
        loaded = await uow.orders.get(s.order_id)
    assert loaded == fold(events)
    [row] = await _rows(pool, "SELECT created_at, updated_at FROM orders WHERE order_id = %s", s.order_id)
    assert (row["created_at"], row["updated_at"]) == (recorded[0]["occurred_at"], recorded[-1]["occurred_at"])

    notices = await _rows(
        pool, "SELECT envelope, occurred_at FROM events WHERE event_type = %s AND correlation_id = %s ORDER BY seq",
        pb_events.PaymentNoticeAccepted.DESCRIPTOR.full_name, s.order_id,
    )
    expected_notices = []
    for r in notices:
        _, n = open_envelope(bytes(r["envelope"]))
        assert isinstance(n, pb_events.PaymentNoticeAccepted)
        expected_notices.append((n.provider, n.nonce, n.order_id, n.provider_txn_id, r["occurred_at"]))
    got_notices = await _rows(
        pool, "SELECT provider, nonce, order_id, txn_id, received_at FROM payment_notices WHERE order_id = %s"
        " ORDER BY received_at, nonce", s.order_id,
    )
    assert sorted(expected_notices) == sorted(tuple(r.values()) for r in got_notices)
    captures = [(e, r) for e, r in zip(events, recorded, strict=True) if type(e).__name__ == "PaymentCaptured"]
    got_payments = await _rows(
        pool, "SELECT provider, txn_id, amount_minor, currency, captured_at FROM payments WHERE order_id = %s",
        s.order_id,
    )
    assert [tuple(r.values()) for r in got_payments] == [
        (e.provider, e.txn_id, e.amount.minor_units, e.amount.currency, r["occurred_at"])  # type: ignore[union-attr]
        for e, r in captures
    ]


def test_each_orders_row_is_the_fold_of_its_events_and_a_rebuild_from_the_store_equals_live(
    database_url: str,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(db.migrate(database_url, NAME, MIGRATIONS))
        pool = loop.run_until_complete(db.create_pool(database_url, NAME, 1, 2))
        store = event_store()

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(lines, steps)
        def check(priced: list[Any], taken: list[Any]) -> None:
            loop.run_until_complete(_check(pool, store, priced, taken))

        try:
            check()
            # Replay folds each order's events in one batch (the INSERT path); live updated it event by
            # event: both must give the same rows.
            loop.run_until_complete(assert_replay_matches_live(database_url, NAME))
        finally:
            loop.run_until_complete(pool.close())
    finally:
        loop.close()
