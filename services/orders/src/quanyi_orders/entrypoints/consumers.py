"""Orders' event handlers: translate events into use cases, in the inbox's transaction.

An event about an order this service does not know, or one the order refuses, raises and so goes to
`dead_letters`; a concurrent write to the same order is retried with the batch.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from psycopg import AsyncConnection
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.consumer import Handler, ReceivedEvent, TransientError
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore, topic_for

from quanyi_orders.application import orders
from quanyi_orders.domain.order import Order, RiskDecision

CONSUMER = "orders"
TOPICS = [topic_for("inventory"), topic_for("fulfillment"), topic_for("risk")]

_DECISIONS = {
    risk_events.DECISION_APPROVE: RiskDecision.APPROVE,
    risk_events.DECISION_REVIEW: RiskDecision.REVIEW,
    risk_events.DECISION_REJECT: RiskDecision.REJECT,
}


async def _retry_on_conflict(change: Awaitable[Order]) -> None:
    try:
        await change
    except ConcurrencyConflict as exc:
        raise TransientError("the order changed meanwhile") from exc


def handlers(store: EventStore) -> dict[str, Handler]:
    async def on_risk_decided(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        decided: risk_events.RiskDecided = ev.payload
        if decided.decision not in _DECISIONS:
            raise ValueError(f"RiskDecided without a decision for order {decided.order_id}")
        await _retry_on_conflict(orders.record_risk_decision(
            conn, store, decided.order_id, _DECISIONS[decided.decision], list(decided.reasons), ev.event_id
        ))

    async def on_stock_short(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        short: inventory_events.StockShort = ev.payload
        await _retry_on_conflict(orders.record_stock_short(conn, store, short.order_id, ev.event_id))

    async def on_key_delivered(conn: AsyncConnection[Any], ev: ReceivedEvent) -> None:
        delivered: fulfillment_events.KeyDelivered = ev.payload
        await _retry_on_conflict(orders.record_delivery(conn, store, delivered.order_id, ev.event_id))

    return {
        risk_events.RiskDecided.DESCRIPTOR.full_name: on_risk_decided,
        inventory_events.StockShort.DESCRIPTOR.full_name: on_stock_short,
        fulfillment_events.KeyDelivered.DESCRIPTOR.full_name: on_key_delivered,
    }
