"""Orders' domain events and read model <-> the protos of quanyi.orders.v1, and their envelopes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi_platform.envelope import NewEvent, datetime_of

from quanyi_orders.domain import events
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order
from quanyi_orders.domain.refund import Refund, buyer_state

#: The aggregate types of orders' event store.
ORDER = "Order"
PAYMENT_NOTICE = "PaymentNotice"

_REFUND_REASON = {
    events.RefundReason.STOCK_SHORT: pb_events.REFUND_REASON_STOCK_SHORT,
    events.RefundReason.REVIEW_REJECTED: pb_events.REFUND_REASON_REVIEW_REJECTED,
    events.RefundReason.DELIVERY_FAILED: pb_events.REFUND_REASON_DELIVERY_FAILED,
    events.RefundReason.OPERATOR: pb_events.REFUND_REASON_OPERATOR,
    events.RefundReason.AMOUNT_MISMATCH: pb_events.REFUND_REASON_AMOUNT_MISMATCH,
    events.RefundReason.ORDER_NOT_PAYABLE: pb_events.REFUND_REASON_ORDER_NOT_PAYABLE,
    events.RefundReason.DUPLICATE_PAYMENT: pb_events.REFUND_REASON_DUPLICATE_PAYMENT,
}
_REFUND_REASON_BACK = {v: k for k, v in _REFUND_REASON.items()}


def timestamp(at: datetime | None) -> Timestamp | None:
    """A UTC protobuf Timestamp, or None for no time (an unset field)."""
    if at is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


def _ts_back(ts: Timestamp) -> datetime:
    at: datetime = datetime_of(ts)
    return at


def _refund_lines(lines: tuple[events.RefundLine, ...]) -> list[pb_events.RefundLine]:
    return [
        pb_events.RefundLine(line_no=ln.line_no, sku_id=ln.sku_id, quantity=ln.quantity,
                             amount=money_to_proto(ln.amount), released=ln.released, voided=ln.voided,
                             redeemed=ln.redeemed)
        for ln in lines
    ]


def _refund_lines_back(lines: Sequence[pb_events.RefundLine]) -> tuple[events.RefundLine, ...]:
    return tuple(
        events.RefundLine(ln.line_no, ln.sku_id, ln.quantity, money_from_proto(ln.amount), ln.released,
                          ln.voided, ln.redeemed)
        for ln in lines
    )


def money_to_proto(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.minor_units, currency=m.currency)


def money_from_proto(m: money_pb2.Money) -> Money:
    return Money(int(m.minor_units), m.currency)


def _money(m: Money | None) -> money_pb2.Money | None:
    return money_to_proto(m) if m is not None else None


def _lines(lines: tuple[events.OrderLine, ...]) -> list[pb_events.OrderLine]:
    return [
        pb_events.OrderLine(
            line_no=line.line_no, sku_id=line.sku_id, quantity=line.quantity,
            unit_price=money_to_proto(line.unit_price),
        )
        for line in lines
    ]


def _lines_back(lines: Sequence[pb_events.OrderLine]) -> tuple[events.OrderLine, ...]:
    # Replay decodes every OrderPlaced and OrderPaid: a plain loop, no generator.
    out = []
    for ln in lines:
        price = Money(ln.unit_price.minor_units, ln.unit_price.currency)
        out.append(events.OrderLine(ln.line_no, ln.sku_id, ln.quantity, price))
    return tuple(out)


def event_to_proto(ev: events.Event) -> Message:
    """The payload published on quanyi.orders.v1 for a domain event. OrderPlaced's time is the envelope's."""
    match ev:
        case events.OrderPlaced():
            return pb_events.OrderPlaced(
                order_id=ev.order_id, buyer_id=ev.buyer_id, channel=ev.channel, lines=_lines(ev.lines),
                total=money_to_proto(ev.total), buyer_email=ev.buyer_email,
                idempotency_key=ev.idempotency_key, pay_by=timestamp(ev.pay_by), client_tag=ev.client_tag,
                coupon_code=ev.coupon_code, discount=_money(ev.discount),
            )
        case events.PaymentCaptured():
            return pb_events.PaymentCaptured(
                order_id=ev.order_id, provider=ev.provider, provider_txn_id=ev.txn_id,
                amount=money_to_proto(ev.amount), refused_reason=ev.refused.value if ev.refused else "",
            )
        case events.OrderPaid():
            return pb_events.OrderPaid(
                order_id=ev.order_id, buyer_id=ev.buyer_id, channel=ev.channel, lines=_lines(ev.lines),
                total=money_to_proto(ev.total), buyer_email=ev.buyer_email, provider_txn_id=ev.txn_id,
                discount=_money(ev.discount),
            )
        case events.OrderApproved():
            return pb_events.OrderApproved(order_id=ev.order_id, reviewed=ev.reviewed)
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
        case events.OrderExpired():
            return pb_events.OrderExpired(order_id=ev.order_id, pay_by=timestamp(ev.pay_by))
        case events.RefundRequested():
            return pb_events.RefundRequested(
                order_id=ev.order_id, refund_id=ev.refund_id, provider=ev.provider, provider_txn_id=ev.txn_id,
                amount=money_to_proto(ev.amount), reason=_REFUND_REASON[ev.reason],
                lines=_refund_lines(ev.lines), actor=ev.actor, override_redeemed=ev.override_redeemed,
                note=ev.note,
            )
        case events.RefundSent():
            return pb_events.RefundSent(
                order_id=ev.order_id, refund_id=ev.refund_id, attempt=ev.attempt, outcome=ev.outcome,
                next_attempt_at=timestamp(ev.next_attempt_at),
            )
        case events.RefundSucceeded():
            return pb_events.RefundSucceeded(
                order_id=ev.order_id, refund_id=ev.refund_id, amount=money_to_proto(ev.amount),
                provider=ev.provider, lines=_refund_lines(ev.lines), provider_refund_id=ev.provider_refund_id,
                reason=_REFUND_REASON[ev.reason],
            )
        case events.RefundKeysCleared():
            return pb_events.RefundKeysCleared(
                order_id=ev.order_id, refund_id=ev.refund_id, refused=ev.refused, reason=ev.reason
            )
        case events.RefundDeclined():
            return pb_events.RefundDeclined(order_id=ev.order_id, refund_id=ev.refund_id, action=ev.action,
                                            actor=ev.actor, note=ev.note)
        case events.OrderQueued():
            return pb_events.OrderQueued(order_id=ev.order_id, reason=ev.reason, source=ev.source)
        case events.QueueEntryResolved():
            return pb_events.QueueEntryResolved(order_id=ev.order_id, action=ev.action, actor=ev.actor,
                                                note=ev.note)
    raise TypeError(f"no proto for {type(ev).__name__}")


def event_from_proto(payload: Message, occurred_at: datetime) -> events.Event:
    """The domain event a recorded payload stands for; `occurred_at` is its envelope's time."""
    match payload:
        case pb_events.OrderPlaced():
            return events.OrderPlaced(
                payload.order_id, payload.buyer_id, payload.buyer_email, payload.channel,
                _lines_back(payload.lines), money_from_proto(payload.total), payload.idempotency_key,
                occurred_at.astimezone(UTC), _ts_back(payload.pay_by) if payload.HasField("pay_by") else None,
                payload.client_tag, payload.coupon_code,
                money_from_proto(payload.discount) if payload.HasField("discount") else None,
            )
        case pb_events.PaymentCaptured():
            return events.PaymentCaptured(
                payload.order_id, payload.provider, payload.provider_txn_id, money_from_proto(payload.amount),
                events.RefundReason(payload.refused_reason) if payload.refused_reason else None,
            )
        case pb_events.OrderPaid():
            return events.OrderPaid(
                payload.order_id, payload.buyer_id, payload.buyer_email, payload.channel,
                _lines_back(payload.lines), money_from_proto(payload.total), payload.provider_txn_id,
                money_from_proto(payload.discount) if payload.HasField("discount") else None,
            )
        case pb_events.OrderApproved():
            return events.OrderApproved(payload.order_id, payload.reviewed)
        case pb_events.OrderHeld():
            return events.OrderHeld(payload.order_id, tuple(payload.reasons))
        case pb_events.OrderCancelled():
            return events.OrderCancelled(payload.order_id, payload.reason)
        case pb_events.OrderRefunded():
            return events.OrderRefunded(
                payload.order_id, payload.channel, money_from_proto(payload.amount),
                _REFUND_REASON_BACK[payload.reason], payload.was_released,
            )
        case pb_events.OrderFulfilled():
            return events.OrderFulfilled(payload.order_id)
        case pb_events.OrderExpired():
            return events.OrderExpired(payload.order_id, _ts_back(payload.pay_by))
        case pb_events.RefundRequested():
            return events.RefundRequested(
                payload.order_id, payload.refund_id, payload.provider, payload.provider_txn_id,
                money_from_proto(payload.amount), _REFUND_REASON_BACK[payload.reason],
                _refund_lines_back(payload.lines), payload.actor, payload.override_redeemed, payload.note,
            )
        case pb_events.RefundSent():
            return events.RefundSent(
                payload.order_id, payload.refund_id, payload.attempt, payload.outcome,
                _ts_back(payload.next_attempt_at),
            )
        case pb_events.RefundSucceeded():
            return events.RefundSucceeded(
                payload.order_id, payload.refund_id, money_from_proto(payload.amount), payload.provider,
                _refund_lines_back(payload.lines), payload.provider_refund_id,
                _REFUND_REASON_BACK[payload.reason],
            )
        case pb_events.RefundKeysCleared():
            return events.RefundKeysCleared(
                payload.order_id, payload.refund_id, payload.refused, payload.reason
            )
        case pb_events.RefundDeclined():
            return events.RefundDeclined(payload.order_id, payload.refund_id, payload.action, payload.actor,
                                         payload.note)
        case pb_events.OrderQueued():
            return events.OrderQueued(payload.order_id, payload.reason, payload.source)
        case pb_events.QueueEntryResolved():
            return events.QueueEntryResolved(payload.order_id, payload.action, payload.actor, payload.note)
    raise TypeError(f"not an order event: {type(payload).__name__}")


#: The full proto names of the order's events, and of an accepted notice.
ORDER_EVENT_TYPES = frozenset(
    m.DESCRIPTOR.full_name
    for m in (
        pb_events.OrderPlaced, pb_events.PaymentCaptured, pb_events.OrderPaid, pb_events.OrderApproved,
        pb_events.OrderHeld, pb_events.OrderCancelled, pb_events.OrderRefunded, pb_events.OrderFulfilled,
        pb_events.OrderExpired, pb_events.RefundRequested, pb_events.RefundSent, pb_events.RefundSucceeded,
        pb_events.OrderQueued, pb_events.QueueEntryResolved, pb_events.RefundKeysCleared,
        pb_events.RefundDeclined,
    )
)
NOTICE_ACCEPTED = pb_events.PaymentNoticeAccepted.DESCRIPTOR.full_name


def notice_to_proto(ev: events.PaymentNoticeAccepted) -> pb_events.PaymentNoticeAccepted:
    return pb_events.PaymentNoticeAccepted(
        provider=ev.provider, nonce=ev.nonce, order_id=ev.order_id, provider_txn_id=ev.txn_id,
        notice_id=ev.notice_id,
    )


def notice_from_proto(payload: Message) -> events.PaymentNoticeAccepted:
    if not isinstance(payload, pb_events.PaymentNoticeAccepted):
        raise TypeError(f"not a PaymentNoticeAccepted: {type(payload).__name__}")
    return events.PaymentNoticeAccepted(
        payload.provider, payload.nonce, payload.order_id, payload.provider_txn_id, payload.notice_id
    )


def order_new_events(
    order_id: str,
    version_before: int,
    new: Sequence[events.Event],
    *,
    causation_id: str = "",
    occurred_at: datetime | None = None,
) -> list[NewEvent]:
    """Envelopes for an order's new events, numbered on from `version_before`, correlated by the order."""
    at = occurred_at or datetime.now(UTC)
    return [
        NewEvent(
            aggregate_type=ORDER,
            aggregate_id=order_id,
            aggregate_version=version_before + n,
            payload=event_to_proto(ev),
            correlation_id=order_id,
            causation_id=causation_id,
            occurred_at=at,
        )
        for n, ev in enumerate(new, start=1)
    ]


def notice_new_event(ev: events.PaymentNoticeAccepted) -> NewEvent:
    """A notice is its own aggregate, (provider, nonce), at version 1: the store accepts a nonce once."""
    return NewEvent(
        aggregate_type=PAYMENT_NOTICE,
        aggregate_id=f"{ev.provider}:{ev.nonce}",
        aggregate_version=1,
        payload=notice_to_proto(ev),
        correlation_id=ev.order_id,
    )


def order_to_proto(order: Order, refunds: Sequence[Refund] = ()) -> pb.Order:
    """The order; with `refunds`, each as its buyer may see it (refund.buyer_state)."""
    shown = [(r, buyer_state(r)) for r in refunds]
    return pb.Order(
        refunds=[
            pb.OrderRefund(refund_id=r.refund_id, state=state, amount=money_to_proto(r.amount))
            for r, state in shown if state is not None
        ],
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
        discount=_money(order.discount),
    )
