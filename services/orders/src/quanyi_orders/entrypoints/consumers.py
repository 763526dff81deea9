"""Orders' consumer: translates a batch of RiskDecided, StockShort, KeyDelivered, DeliveryFailed,
inventory's answers to refunds (RefundKeysSettled, RefundKeysRefused) and its RefundedKeyRedeemed (a key
redeemed after a refund took it back) into one application call, nothing more.

An event about an order this service does not know, or one the order refuses, fails the batch; the
consumer then isolates it (bisection) and dead-letters it alone. A write conflict retries the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from psycopg import AsyncConnection
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent, TransientError
from quanyi_platform.eventstore import ConcurrencyConflict, topic_for

from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.domain.order import (
    Queue,
    RecordDelivery,
    RecordRefundedKeyRedeemed,
    RecordRefundKeys,
    RecordRiskDecision,
    RecordStockShort,
    RiskDecision,
)

CONSUMER = "orders"
TOPICS = [topic_for("inventory"), topic_for("fulfillment"), topic_for("risk")]

RISK_DECIDED = risk_events.RiskDecided.DESCRIPTOR.full_name
STOCK_SHORT = inventory_events.StockShort.DESCRIPTOR.full_name
REFUND_KEYS_SETTLED = inventory_events.RefundKeysSettled.DESCRIPTOR.full_name
REFUND_KEYS_REFUSED = inventory_events.RefundKeysRefused.DESCRIPTOR.full_name
REFUNDED_KEY_REDEEMED = inventory_events.RefundedKeyRedeemed.DESCRIPTOR.full_name
KEY_DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name
DELIVERY_FAILED = fulfillment_events.DeliveryFailed.DESCRIPTOR.full_name

_DECISIONS = {
    risk_events.DECISION_APPROVE: RiskDecision.APPROVE,
    risk_events.DECISION_REVIEW: RiskDecision.REVIEW,
    risk_events.DECISION_REJECT: RiskDecision.REJECT,
}


def order_fact(ev: ReceivedEvent) -> OrderFact | None:
    """The command an event of another service gives an order (None: nothing for the order to do)."""
    match ev.payload:
        case risk_events.RiskDecided() as decided:
            if decided.decision not in _DECISIONS:
                raise ValueError(f"RiskDecided without a decision for order {decided.order_id}")
            verdict = RecordRiskDecision(_DECISIONS[decided.decision], tuple(decided.reasons))
            return OrderFact(decided.order_id, verdict, ev.event_id)
        case inventory_events.StockShort() as short:
            return OrderFact(short.order_id, RecordStockShort(), ev.event_id)
        case inventory_events.RefundKeysSettled() as settled:
            return OrderFact(settled.order_id, RecordRefundKeys(settled.refund_id), ev.event_id)
        case inventory_events.RefundKeysRefused() as refused:
            answer = RecordRefundKeys(refused.refund_id, refused=True, reason=refused.reason)
            return OrderFact(refused.order_id, answer, ev.event_id)
        case inventory_events.RefundedKeyRedeemed() as late:
            k = late.key
            at = late.redeemed_at.ToDatetime(tzinfo=UTC) if late.HasField("redeemed_at") else None
            redeemed = RecordRefundedKeyRedeemed(
                k.key_id, k.sku_id, k.line_no, k.unit_no, late.refund_id, late.taken, late.partner, at
            )
            return OrderFact(late.order_id, redeemed, ev.event_id)
        case fulfillment_events.KeyDelivered() as delivered:
            return OrderFact(delivered.order_id, RecordDelivery(), ev.event_id)
        case fulfillment_events.DeliveryFailed() as failed:
            if not failed.final:
                return None  # fulfillment retries it
            channel = failed.channel or "email"  # empty in fulfillment's records of older releases
            reason = f"{channel} delivery given up after {failed.attempt} attempts: {failed.reason}"[:500]
            return OrderFact(failed.order_id, Queue(reason, "delivery"), ev.event_id)
    raise TypeError(f"orders does not handle {ev.envelope.type}")


def order_facts_handler(unit_of_work: Callable[[AsyncConnection[Any]], OrdersUnitOfWork]) -> BatchHandler:
    """Applies a fetched batch in the consumer's transaction (`unit_of_work(conn)` binds a unit of work
    to it)."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        try:
            facts = [fact for fact in map(order_fact, events) if fact is not None]
            await apply_order_facts(unit_of_work(conn), facts)
        except ConcurrencyConflict as exc:  # the orders are locked: only a stray writer gets here
            raise TransientError("an order changed meanwhile") from exc

    handles = {RISK_DECIDED, STOCK_SHORT, KEY_DELIVERED, DELIVERY_FAILED}
    return BatchHandler(
        frozenset({*handles, REFUND_KEYS_SETTLED, REFUND_KEYS_REFUSED, REFUNDED_KEY_REDEEMED}), apply
    )
