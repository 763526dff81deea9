"""The Order aggregate: placing, payment, the risk decision, review, and the end of fulfilment.

Decide/evolve style, both pure: `decide(order, command)` returns the events a command records (or raises
an OrderError and records nothing), and `evolve(order, event)` is the state after one event. The state is
nothing but the fold of the order's events, so the `orders` projection and a replay reach the same state
as the aggregate did.

An order is released to fulfilment (OrderPaid) only when both its payment is captured and risk has
approved it; the two arrive in either order. Every event raises `version` by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import AmountMismatch, InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
    OrderApproved,
    OrderCancelled,
    OrderFulfilled,
    OrderHeld,
    OrderLine,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    PaymentCaptured,
    RefundReason,
)
from quanyi_orders.domain.money import Money

MAX_QUANTITY = 100
_MAX_MINOR_UNITS = 2**63 - 1  # a Postgres bigint


class Status(Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CAPTURED = "CAPTURED"  # paid, waiting for risk
    PAID = "PAID"  # released to fulfilment
    UNDER_REVIEW = "UNDER_REVIEW"
    FULFILLED = "FULFILLED"
    REFUNDED = "REFUNDED"
    CANCELLED = "CANCELLED"


class RiskDecision(Enum):
    PENDING = "PENDING"
    APPROVE = "APPROVE"
    REVIEW = "REVIEW"
    REJECT = "REJECT"


@dataclass(frozen=True)
class Order:
    """One buyer's order, as of its `version`-th event."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]
    total: Money
    status: Status
    risk_decision: RiskDecision
    captured_txn_id: str | None
    version: int
    placed_at: datetime
    idempotency_key: str


# -- commands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Place a new order; the lines are (SKU, quantity, unit price)."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: Sequence[tuple[str, int, Money]]
    idempotency_key: str
    placed_at: datetime


@dataclass(frozen=True)
class CapturePayment:
    """The provider confirmed a payment of `amount` in its transaction `txn_id`."""

    amount: Money
    provider: str
    txn_id: str


@dataclass(frozen=True)
class RecordRiskDecision:
    """Risk's verdict, which may come before or after the payment. Only the first one counts."""

    decision: RiskDecision
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    """A person's decision on an order held for review."""

    approve: bool


@dataclass(frozen=True)
class RecordStockShort:
    """Inventory has not enough keys for a released order."""


@dataclass(frozen=True)
class RecordDelivery:
    """Every unit of the order has been delivered."""


Command = Place | CapturePayment | RecordRiskDecision | Review | RecordStockShort | RecordDelivery


# -- decide ----------------------------------------------------------------------------------------


def decide(order: Order | None, command: Command) -> list[Event]:
    """The events `command` records on `order` (None: not placed yet). Raises OrderError when refused.

    Commands that repeat what is already recorded (the same transaction captured again, a second risk
    decision, a second delivery or shortage) record nothing, so redelivered messages have no effect.
    """
    if isinstance(command, Place):
        if order is not None:
            raise NotAllowed("the order exists already")
        return [_placed(command)]
    if order is None:
        raise NotAllowed("the order has not been placed")
    match command:
        case CapturePayment():
            return _capture(order, command)
        case RecordRiskDecision():
            return _risk(order, command)
        case Review():
            return _review(order, command.approve)
        case RecordStockShort():
            if order.status is Status.REFUNDED:
                return []
            if order.status is not Status.PAID:
                raise NotAllowed(f"an order that is {order.status.value} cannot run short of stock")
            return [OrderRefunded(order.order_id, order.channel, order.total, RefundReason.STOCK_SHORT, True)]
        case RecordDelivery():
            if order.status is Status.FULFILLED:
                return []
            if order.status is not Status.PAID:
                raise NotAllowed(f"an order that is {order.status.value} cannot be delivered")
            return [OrderFulfilled(order.order_id)]
    raise TypeError(f"not an order command: {command!r}")


def _placed(cmd: Place) -> OrderPlaced:
    if not cmd.buyer_id:
        raise InvalidOrder("a buyer is required")
    if not cmd.lines:
        raise InvalidOrder("an order needs at least one line")
    currency = cmd.lines[0][2].currency
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidOrder("prices need a three-letter currency code")
    priced: list[OrderLine] = []
    for n, (sku_id, quantity, unit_price) in enumerate(cmd.lines, start=1):
        if not sku_id:
            raise InvalidOrder(f"line {n} has no SKU")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidOrder(f"line {n}: quantity must be between 1 and {MAX_QUANTITY}")
        if unit_price.currency != currency:
            raise InvalidOrder("all lines must be priced in the same currency")
        if unit_price.minor_units < 0:
            raise InvalidOrder(f"line {n}: the price must not be negative")
        priced.append(OrderLine(n, sku_id, quantity, unit_price))
    total = Money.zero(currency)
    for line in priced:
        total = total + line.subtotal
    if total.minor_units > _MAX_MINOR_UNITS:
        raise InvalidOrder("the order total is too large")
    return OrderPlaced(
        cmd.order_id, cmd.buyer_id, cmd.buyer_email, cmd.channel, tuple(priced), total, cmd.idempotency_key,
        cmd.placed_at,
    )


def _capture(order: Order, cmd: CapturePayment) -> list[Event]:
    """The amount must equal the order's total exactly. Payment is accepted while the order awaits it or
    is held for review; a held order stays held."""
    if cmd.amount != order.total:
        raise AmountMismatch()
    if not cmd.txn_id:
        raise NotAllowed("a payment needs the provider's transaction id")
    if order.captured_txn_id == cmd.txn_id:
        return []
    if order.captured_txn_id is not None:
        raise NotAllowed("the order is already paid by another transaction")
    if order.status not in (Status.PENDING_PAYMENT, Status.UNDER_REVIEW):
        raise NotAllowed(f"an order that is {order.status.value} cannot take a payment")
    captured = PaymentCaptured(order.order_id, cmd.provider, cmd.txn_id, cmd.amount)
    if order.status is Status.PENDING_PAYMENT and order.risk_decision is RiskDecision.APPROVE:
        return [captured, _paid(order, cmd.txn_id)]
    return [captured]


def _risk(order: Order, cmd: RecordRiskDecision) -> list[Event]:
    if cmd.decision is RiskDecision.PENDING:
        raise ValueError("a risk decision cannot be PENDING")
    if order.risk_decision is not RiskDecision.PENDING:
        return []
    if cmd.decision is RiskDecision.APPROVE:
        if order.status is Status.CAPTURED:
            return [_paid(order, _txn(order))]
        return [OrderApproved(order.order_id, reviewed=False)]
    if cmd.decision is RiskDecision.REVIEW:
        return [OrderHeld(order.order_id, tuple(cmd.reasons))]
    return [_refused(order, "rejected by risk")]


def _review(order: Order, approve: bool) -> list[Event]:
    if order.status is not Status.UNDER_REVIEW:
        raise NotAllowed("the order is not under review")
    if not approve:
        return [_refused(order, "rejected in review")]
    if order.captured_txn_id is not None:
        return [_paid(order, order.captured_txn_id)]
    return [OrderApproved(order.order_id, reviewed=True)]


def _paid(order: Order, txn_id: str) -> OrderPaid:
    return OrderPaid(
        order.order_id, order.buyer_id, order.buyer_email, order.channel, order.lines, order.total, txn_id
    )


def _refused(order: Order, cancel_reason: str) -> Event:
    """Refund a captured (never released) order, or cancel an unpaid one."""
    if order.captured_txn_id is not None:
        return OrderRefunded(order.order_id, order.channel, order.total, RefundReason.REVIEW_REJECTED, False)
    return OrderCancelled(order.order_id, cancel_reason)


def _txn(order: Order) -> str:
    assert order.captured_txn_id is not None, "a captured order has its transaction"
    return order.captured_txn_id


# -- evolve ----------------------------------------------------------------------------------------


def evolve(order: Order | None, event: Event) -> Order:
    """The state after `event`. Total on every state: it records what happened, it does not judge it.

    Each of status, risk decision and captured transaction changes from its own previous value and the
    event alone (the `orders` projection relies on it to fold a batch of events in one UPDATE).
    """
    if isinstance(event, OrderPlaced):
        if order is not None:
            raise ValueError(f"order {event.order_id} is placed already")
        return Order(
            order_id=event.order_id,
            buyer_id=event.buyer_id,
            buyer_email=event.buyer_email,
            channel=event.channel,
            lines=event.lines,
            total=event.total,
            status=Status.PENDING_PAYMENT,
            risk_decision=RiskDecision.PENDING,
            captured_txn_id=None,
            version=1,
            placed_at=event.placed_at,
            idempotency_key=event.idempotency_key,
        )
    if order is None:
        raise ValueError(f"{type(event).__name__} of order {event.order_id}, which was never placed")
    order = replace(order, version=order.version + 1)
    match event:
        case PaymentCaptured():
            status = Status.CAPTURED if order.status is Status.PENDING_PAYMENT else order.status
            return replace(order, status=status, captured_txn_id=event.txn_id)
        case OrderPaid():
            return replace(
                order, status=Status.PAID, risk_decision=RiskDecision.APPROVE, captured_txn_id=event.txn_id
            )
        case OrderApproved():
            return replace(order, status=Status.PENDING_PAYMENT, risk_decision=RiskDecision.APPROVE)
        case OrderHeld():
            return replace(order, status=Status.UNDER_REVIEW, risk_decision=RiskDecision.REVIEW)
        case OrderCancelled():
            return replace(order, status=Status.CANCELLED, risk_decision=RiskDecision.REJECT)
        case OrderRefunded():
            rejected = event.reason is RefundReason.REVIEW_REJECTED
            risk = RiskDecision.REJECT if rejected else order.risk_decision
            return replace(order, status=Status.REFUNDED, risk_decision=risk)
        case OrderFulfilled():
            return replace(order, status=Status.FULFILLED)
    raise TypeError(f"not an order event: {event!r}")


def fold(events: Iterable[Event], order: Order | None = None) -> Order | None:
    """The state after `events`, starting from `order` (None: before the order was placed)."""
    for event in events:
        order = evolve(order, event)
    return order


def execute(order: Order | None, command: Command) -> tuple[Order | None, list[Event]]:
    """Decide `command` and evolve by what it records: the new state and the new events."""
    events = decide(order, command)
    return fold(events, order), events
