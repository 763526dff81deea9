"""The ledger's part of an order's history: a posting batch carries several orders' entries under its first
entry's correlation id, and is still found for each of those orders (LedgerHistoryScope)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1.money_pb2 import Money
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_ledger.adapters.history_scope import LedgerHistoryScope
from quanyi_platform.event_history import PgEventHistory
from quanyi_platform.eventstore import EventStore
from quanyi_platform.history import mentions_key

from .conftest import deliver, received


async def test_an_orders_history_holds_the_posting_batch_that_carries_its_entries(
    pool: AsyncConnectionPool, store: EventStore
) -> None:
    money = Money(minor_units=1990, currency="CNY")
    # One consumer batch, two orders: one EntriesPosted, correlated with the first order only.
    await deliver(
        pool, store,
        *(
            received(event, order_id)
            for order_id in ("o-1", "o-2")
            for event in (
                orders.PaymentCaptured(order_id=order_id, provider="psp-sim", amount=money),
                orders.OrderPaid(order_id=order_id, channel="web", total=money),
            )
        ),
    )
    plain = PgEventHistory("ledger", pool)
    scoped = PgEventHistory("ledger", pool, LedgerHistoryScope())
    posted = [e for e in (await scoped.list_events(["o-2"], "", 100))[0] if e.short_type == "EntriesPosted"]
    assert posted and all(e.correlation_id == "o-1" for e in posted)
    assert all(mentions_key(e.payload, "o-2") for e in posted)
    # Without the scope, correlation ids alone miss it.
    assert not [e for e in (await plain.list_events(["o-2"], "", 100))[0] if e.short_type == "EntriesPosted"]
    assert (await scoped.list_events(["o-unknown"], "", 100)) == ([], False)
