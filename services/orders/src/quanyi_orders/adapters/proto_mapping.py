"""Orders' domain events and read model <-> the protos of quanyi.orders.v1."""

from __future__ import annotations

from google.protobuf.message import Message
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi.orders.v1 import orders_service_pb2 as pb

from quanyi_orders.domain import events
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order

_REFUND_REASON = {
    events.RefundReason.STOCK_SHORT: pb_events.REFUND_REASON_STOCK_SHORT,
    events.RefundReason.REVIEW_REJECTED: pb_events.REFUND_REASON_REVIEW_REJECTED,
}


def money_to_proto(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.minor_units, currency=m.currency)


def money_from_proto(m: money_pb2.Money) -> Money:
    return Money(int(m.minor_units), m.currency)


def _lines(lines: tuple[events.OrderLine, ...]) -> list[pb_events.OrderLine]:
    return [
        pb_events.OrderLine(
            line_no=line.line_no, sku_id=line.sku_id, quantity=line.quantity,
            unit_price=money_to_proto(line.unit_price),
        )
        for line in lines
    ]


def event_to_proto(ev: events.Event) -> Message:
    """The payload published on quanyi.orders.v1 for a domain event."""
    match ev:
        case events.OrderPlaced():
            return pb_events.OrderPlaced(
                order_id=ev.order_id, buyer_id=ev.buyer_id, channel=ev.channel, lines=_lines(ev.lines),
                total=money_to_proto(ev.total), buyer_email=ev.buyer_email,
            )
        case events.PaymentCaptured():
            return pb_events.PaymentCaptured(
                order_id=ev.order_id, provider=ev.provider, provider_txn_id=ev.txn_id,
                amount=money_to_proto(ev.amount),
            )
        case events.OrderPaid():
            return pb_events.OrderPaid(
                order_id=ev.order_id, buyer_id=ev.buyer_id, channel=ev.channel, lines=_lines(ev.lines),
                total=money_to_proto(ev.total), buyer_email=ev.buyer_email, provider_txn_id=ev.txn_id,
            )
        case events.OrderHeld():
            return pb_events.OrderHeld(order_id=ev.order_id, reasons=list(ev.reasons))
        case events.OrderCancelled():
            return pb_events.OrderCancelled(order_id=ev.order_id, reason=ev.reason)
        case events.OrderRefunded():
            return pb_events.OrderRefunded(
                order_id=ev.order_id, channel=ev.channel, amount=money_to_proto(ev.amount),
                reason=_REFUND_REASON[ev.reason], was_released=ev.was_released,
            )
        case events.OrderFulfilled():
            return pb_events.OrderFulfilled(order_id=ev.order_id)
    raise TypeError(f"no proto for {type(ev).__name__}")


def order_to_proto(order: Order) -> pb.Order:
    return pb.Order(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        status=order.status.value,
        items=[
            pb.OrderItem(
                sku_id=line.sku_id, quantity=line.quantity, unit_price=money_to_proto(line.unit_price)
            )
            for line in order.lines
        ],
        total=money_to_proto(order.total),
        risk_decision=order.risk_decision.value,
        channel=order.channel,
        created_at=order.placed_at.isoformat(),
        version=order.version,
    )
