"""Ledger's event handlers: translate financial facts into posting-rule calls, nothing more."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from psycopg import AsyncConnection
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import BatchWriter, Handler, ReceivedEvent
from quanyi_platform.eventstore import EventStore

from quanyi_ledger.application.posting import Posting, post_entries
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import JournalEntry, Money


def _money(m: money_pb2.Money) -> Money:
    return Money(int(m.minor_units), m.currency)


def _source(ev: ReceivedEvent) -> posting.Source:
    # The canonical (lower-case) spelling, as Postgres returns it, so the hash recomputes the same.
    return posting.Source(str(uuid.UUID(ev.event_id)), ev.envelope.occurred_at.ToDatetime(tzinfo=UTC))


def write_postings(store: EventStore) -> BatchWriter:
    """The InboxConsumer's write_batch: posts the entries a batch's handlers deferred, in a few statements."""

    async def write(conn: AsyncConnection[Any], postings: list[Posting]) -> None:
        await post_entries(conn, store, postings)

    return write


def handlers() -> dict[str, Handler]:
    """Handlers for the InboxConsumer: each fact defers at most one entry (a Posting) to write_postings,
    which posts it within the inbox transaction."""

    async def record(
        conn: AsyncConnection[Any], ev: ReceivedEvent, entry: JournalEntry | None, order_id: str
    ) -> None:
        if entry is not None:
            ev.defer(Posting(entry, ev.correlation_id or order_id, ev.event_id))

    async def on_payment_captured(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        msg: orders_events.PaymentCaptured = ev.payload
        fact = posting.PaymentCaptured(msg.order_id, msg.provider, msg.provider_txn_id, _money(msg.amount))
        await record(conn, ev, posting.payment_captured(fact, _source(ev)), msg.order_id)

    async def on_order_paid(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        msg: orders_events.OrderPaid = ev.payload
        fact = posting.OrderPaid(msg.order_id, msg.channel, _money(msg.total))
        await record(conn, ev, posting.order_paid(fact, _source(ev)), msg.order_id)

    async def on_order_refunded(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        msg: orders_events.OrderRefunded = ev.payload
        fact = posting.OrderRefunded(msg.order_id, msg.channel, _money(msg.amount), msg.was_released)
        await record(conn, ev, posting.order_refunded(fact, _source(ev)), msg.order_id)

    async def on_key_delivered(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        msg: fulfillment_events.KeyDelivered = ev.payload
        fact = posting.KeyDelivered(msg.order_id, msg.sales_channel, [_money(k.unit_cost) for k in msg.keys])
        await record(conn, ev, posting.key_delivered(fact, _source(ev)), msg.order_id)

    return {
        orders_events.PaymentCaptured.DESCRIPTOR.full_name: on_payment_captured,
        orders_events.OrderPaid.DESCRIPTOR.full_name: on_order_paid,
        orders_events.OrderRefunded.DESCRIPTOR.full_name: on_order_refunded,
        fulfillment_events.KeyDelivered.DESCRIPTOR.full_name: on_key_delivered,
    }
