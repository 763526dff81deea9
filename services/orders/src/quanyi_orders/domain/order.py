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
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import NamedTuple

from quanyi_orders.domain.errors import InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
    OrderApproved,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderHeld,
    OrderLine,
    OrderPaid,
    OrderPlaced,
    OrderQueued,
    OrderRefunded,
    PaymentCaptured,
    QueueEntryResolved,
    RefundDeclined,
    RefundKeysCleared,
    RefundLine,
    RefundReason,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.queue import REDEEMED_AFTER_REFUND_SOURCE, redeemed_after_refund_reason

MAX_QUANTITY = 100
#: The exception queue's source of a channel that gave up after the order was fulfilled.
CHANNEL_SOURCE = "channel"
_MAX_MINOR_UNITS = 2**63 - 1  # a Postgres bigint


class Status(Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CAPTURED = "CAPTURED"  # paid, waiting for risk
    PAID = "PAID"  # released to fulfilment
    UNDER_REVIEW = "UNDER_REVIEW"
    FULFILLED = "FULFILLED"
    REFUNDED = "REFUNDED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"  # not paid in time; a late payment still completes it


#: The statuses an order can take a payment in (a late one included).
PAYABLE = frozenset({Status.PENDING_PAYMENT, Status.UNDER_REVIEW, Status.EXPIRED})


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
    pay_by: datetime | None = None
    captured_provider: str | None = None
    # The provider transactions recorded as refused (and refunded): a notice or a query answer that names
    # one again, whichever provider alias it arrives under, records nothing more.
    refused_txn_ids: frozenset[str] = frozenset()

    @property
    def gross(self) -> Money:
        """The sum of the lines, before any coupon."""
        total = Money.zero(self.total.currency)
        for line in self.lines:
            total = total + line.subtotal
        return total

    @property
    def discount(self) -> Money | None:
        """What a coupon took off the lines' sum (None: nothing): `total` is the lines' sum less it."""
        off = self.gross.minor_units - self.total.minor_units
        return Money(off, self.total.currency) if off > 0 else None

    @property
    def phase(self) -> Phase:
        return Phase(self.status, self.risk_decision, self.captured_txn_id, self.captured_provider,
                     self.refused_txn_ids)

    def refund_id(self, version: int) -> str:
        """The id of a refund recorded at `version` of this order: stable, so a retry refunds once."""
        return f"rf-{self.order_id}-{version}"


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
    pay_by: datetime | None = None
    client_tag: str = ""
    #: A coupon the order takes, and what it takes off (decided by domain.coupon against its uses).
    coupon_code: str = ""
    discount: Money | None = None


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


@dataclass(frozen=True)
class Expire:
    """The expiry poller found the order's pay_by passed (`now` is when it looked)."""

    now: datetime


@dataclass(frozen=True)
class Queue:
    """A released order needs an operator: its delivery was given up, or its deadline passed. A delivery
    given up after the order was fulfilled (the keys are in the user centre; the e-mail, an SMS, a webhook
    or the partner's activation failed later) is queued as source "channel"."""

    reason: str
    source: str


@dataclass(frozen=True)
class RecordRefundKeys:
    """Inventory's answer to a refund that names keys: RefundKeysSettled, or RefundKeysRefused (`reason`)."""

    refund_id: str
    refused: bool = False
    reason: str = ""


@dataclass(frozen=True)
class RecordRefundedKeyRedeemed:
    """Inventory heard a redemption of one of the order's keys after refund `refund_id` took that key back
    (its RefundedKeyRedeemed; `taken`: voided, voided_undelivered or released). Ids only, never the key."""

    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    refund_id: str
    taken: str
    partner: str
    redeemed_at: datetime | None = None


Command = (
    Place | CapturePayment | RecordRiskDecision | Review | RecordStockShort | RecordDelivery | Expire | Queue
    | RecordRefundKeys | RecordRefundedKeyRedeemed
)


# -- decide ----------------------------------------------------------------------------------------


def decide(order: Order | None, command: Command) -> list[Event]:
    """The events `command` records on `order` (None: not placed yet). Raises OrderError when refused.

    Commands that repeat what is already recorded (the same transaction captured again, a second risk
    decision, a second delivery or shortage, an expiry of an order that moved on) record nothing, so
    redelivered messages and a second poller have no effect.
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
            return _refund_all(order, RefundReason.STOCK_SHORT, was_released=True)
        case RecordDelivery():
            if order.status is Status.FULFILLED:
                return []
            if order.status is not Status.PAID:
                raise NotAllowed(f"an order that is {order.status.value} cannot be delivered")
            return [OrderFulfilled(order.order_id)]
        case Expire():
            return _expire(order, command.now)
        case RecordRefundKeys():
            # Whatever the order's status: a refund that takes its last units refunds the order first.
            reason = command.reason[:500]
            return [RefundKeysCleared(order.order_id, command.refund_id, command.refused, reason)]
        case RecordRefundedKeyRedeemed():
            # Whatever the order's status (refunded, usually): the buyer has the money and used the key, a
            # loss for an operator. Inventory records it once per key; its redelivery the inbox drops.
            c = command
            reason = redeemed_after_refund_reason(
                c.key_id, c.sku_id, c.line_no, c.unit_no, c.refund_id, c.taken, c.partner, c.redeemed_at
            )
            return [OrderQueued(order.order_id, reason, REDEEMED_AFTER_REFUND_SOURCE)]
        case Queue():
            # A paid order not yet delivered or refunded (released, or still waiting for risk) waits on an
            # operator; one held for review is a reviewer's. A fulfilled order whose further channel gave
            # up waits on one too: the buyer was promised that channel.
            if order.status is Status.FULFILLED and command.source == "delivery":
                return [OrderQueued(order.order_id, command.reason, CHANNEL_SOURCE)]
            if order.status not in (Status.PAID, Status.CAPTURED):
                return []
            return [OrderQueued(order.order_id, command.reason, command.source)]
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
    if cmd.pay_by is not None and cmd.pay_by <= cmd.placed_at:
        raise InvalidOrder("an order must be payable for some time")
    discount = cmd.discount
    if discount is not None:
        if not cmd.coupon_code or discount.currency != currency:
            raise InvalidOrder("a discount comes from a coupon, in the order's currency")
        if not 0 < discount.minor_units < total.minor_units:
            raise InvalidOrder("a coupon takes off more than nothing and less than the whole order")
        total = Money(total.minor_units - discount.minor_units, currency)
    # No personal data in events: the buyer is their id (the gateway keeps the address; fulfillment asks it).
    # `buyer_email` stays in the types only for events of older releases, and is always empty.
    return OrderPlaced(
        cmd.order_id, cmd.buyer_id, "", cmd.channel, tuple(priced), total, cmd.idempotency_key,
        cmd.placed_at, cmd.pay_by, cmd.client_tag, cmd.coupon_code if discount is not None else "", discount,
    )


def _capture(order: Order, cmd: CapturePayment) -> list[Event]:
    """Money the provider took is never dropped. A payment of exactly the order's total is accepted while
    the order awaits it, is held for review (it stays held) or has expired (a late payment completes it,
    or holds it when risk asked for review). Any other payment (a wrong amount or currency, a second
    transaction, an order cancelled or refunded) is recorded as refused and refunded whole."""
    if not cmd.txn_id:
        raise NotAllowed("a payment needs the provider's transaction id")
    if order.captured_txn_id == cmd.txn_id or cmd.txn_id in order.refused_txn_ids:
        return []  # a transaction is recorded once, however often and through whichever alias it is told
    refused: RefundReason | None = None
    if cmd.amount != order.total:
        refused = RefundReason.AMOUNT_MISMATCH
    elif order.captured_txn_id is not None:
        refused = RefundReason.DUPLICATE_PAYMENT
    elif order.status not in PAYABLE:
        refused = RefundReason.ORDER_NOT_PAYABLE
    if refused is not None:
        return [
            PaymentCaptured(order.order_id, cmd.provider, cmd.txn_id, cmd.amount, refused),
            RefundRequested(order.order_id, order.refund_id(order.version + 2), cmd.provider, cmd.txn_id,
                            cmd.amount, refused, ()),
        ]
    captured = PaymentCaptured(order.order_id, cmd.provider, cmd.txn_id, cmd.amount)
    if order.status is Status.PENDING_PAYMENT and order.risk_decision is RiskDecision.APPROVE:
        return [captured, _paid(order, cmd.txn_id)]
    if order.status is Status.EXPIRED:
        if order.risk_decision is RiskDecision.APPROVE:
            return [captured, _paid(order, cmd.txn_id)]
        if order.risk_decision is RiskDecision.REVIEW:
            return [captured, OrderHeld(order.order_id, ("paid after the order expired",))]
    return [captured]


def _expire(order: Order, now: datetime) -> list[Event]:
    if order.pay_by is None:
        raise NotAllowed("the order does not expire")
    if order.status not in (Status.PENDING_PAYMENT, Status.UNDER_REVIEW) or order.captured_txn_id is not None:
        return []  # paid, cancelled or expired meanwhile
    if now < order.pay_by:
        raise NotAllowed("the order is not due to expire yet")
    return [OrderExpired(order.order_id, order.pay_by)]


def _refund_all(order: Order, reason: RefundReason, *, was_released: bool) -> list[Event]:
    """The order's whole payment is owed back: the order's refund, and its request to the provider."""
    assert order.captured_txn_id is not None, "only a captured order is refunded"
    lines = tuple(RefundLine(ln.line_no, ln.sku_id, ln.quantity, ln.subtotal) for ln in order.lines)
    return [
        OrderRefunded(order.order_id, order.channel, order.total, reason, was_released),
        RefundRequested(order.order_id, order.refund_id(order.version + 2), order.captured_provider or "",
                        order.captured_txn_id, order.total, reason, lines),
    ]


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
    return _refused(order, "rejected by risk")


def _review(order: Order, approve: bool) -> list[Event]:
    if order.status is not Status.UNDER_REVIEW:
        raise NotAllowed("the order is not under review")
    if not approve:
        return _refused(order, "rejected in review")
    if order.captured_txn_id is not None:
        return [_paid(order, order.captured_txn_id)]
    return [OrderApproved(order.order_id, reviewed=True)]


def _paid(order: Order, txn_id: str) -> OrderPaid:
    return OrderPaid(
        order.order_id, order.buyer_id, order.buyer_email, order.channel, order.lines, order.total, txn_id,
        order.discount,
    )


def _refused(order: Order, cancel_reason: str) -> list[Event]:
    """Refund a captured (never released) order, or cancel an unpaid one."""
    if order.captured_txn_id is not None:
        return _refund_all(order, RefundReason.REVIEW_REJECTED, was_released=False)
    return [OrderCancelled(order.order_id, cancel_reason)]


def _txn(order: Order) -> str:
    assert order.captured_txn_id is not None, "a captured order has its transaction"
    return order.captured_txn_id


# -- evolve ----------------------------------------------------------------------------------------


class Phase(NamedTuple):
    """The part of an order's state that events after OrderPlaced change (besides the version)."""

    status: Status
    risk_decision: RiskDecision
    captured_txn_id: str | None
    captured_provider: str | None = None
    refused_txn_ids: frozenset[str] = frozenset()


def advance(phase: Phase, event: Event) -> Phase:
    """The phase after `event` (any event but OrderPlaced), refused transactions included."""
    after = _advance(phase, event)
    refused = phase.refused_txn_ids
    if isinstance(event, PaymentCaptured) and event.refused is not None:
        refused = refused | {event.txn_id}
    elif after.refused_txn_ids is refused:
        return after  # `phase` itself, or a new one with no refusals from a phase with none
    return Phase(after.status, after.risk_decision, after.captured_txn_id, after.captured_provider, refused)


def _advance(phase: Phase, event: Event) -> Phase:
    """The phase after `event` (any event but OrderPlaced). Total: it records what happened, it does not
    judge it. Each of the three parts changes from its own previous value and the event alone; the
    `orders` projection relies on that to fold a batch of events into one UPDATE."""
    status, risk, txn, provider, _ = phase
    expired = status is Status.EXPIRED
    match event:
        case PaymentCaptured():
            if event.refused is not None:
                return phase
            payable = status in (Status.PENDING_PAYMENT, Status.EXPIRED)
            return Phase(Status.CAPTURED if payable else status, risk, event.txn_id, event.provider)
        case OrderPaid():
            return Phase(Status.PAID, RiskDecision.APPROVE, event.txn_id, provider)
        case OrderApproved():
            return Phase(status if expired else Status.PENDING_PAYMENT, RiskDecision.APPROVE, txn, provider)
        case OrderHeld():
            return Phase(status if expired else Status.UNDER_REVIEW, RiskDecision.REVIEW, txn, provider)
        case OrderCancelled():
            return Phase(Status.CANCELLED, RiskDecision.REJECT, txn, provider)
        case OrderRefunded():
            rejected = event.reason is RefundReason.REVIEW_REJECTED
            return Phase(Status.REFUNDED, RiskDecision.REJECT if rejected else risk, txn, provider)
        case OrderFulfilled():
            return Phase(Status.FULFILLED, risk, txn, provider)
        case OrderExpired():
            return Phase(Status.EXPIRED, risk, txn, provider)
        case RefundRequested() | RefundSent() | RefundSucceeded() | RefundKeysCleared() | OrderQueued() \
                | QueueEntryResolved() | RefundDeclined():
            return phase  # the refund's progress and the exception queue: their own projections follow them
    raise TypeError(f"not an event of a placed order: {event!r}")


def _placed_order(event: OrderPlaced) -> Order:
    return Order(
        # An address in an OrderPlaced of an older release is not kept.
        event.order_id, event.buyer_id, "", event.channel, event.lines, event.total,
        Status.PENDING_PAYMENT, RiskDecision.PENDING, None, 1, event.placed_at, event.idempotency_key,
        event.pay_by,
    )


def _in_phase(order: Order, phase: Phase, version: int) -> Order:
    return Order(
        order.order_id, order.buyer_id, order.buyer_email, order.channel, order.lines, order.total,
        phase.status, phase.risk_decision, phase.captured_txn_id, version, order.placed_at,
        order.idempotency_key, order.pay_by, phase.captured_provider, phase.refused_txn_ids,
    )


def evolve(order: Order | None, event: Event) -> Order:
    """The state after `event`: OrderPlaced makes the order, every later event advances its phase and
    raises its version by one."""
    if isinstance(event, OrderPlaced):
        if order is not None:
            raise ValueError(f"order {event.order_id} is placed already")
        return _placed_order(event)
    if order is None:
        raise ValueError(f"{type(event).__name__} of order {event.order_id}, which was never placed")
    return _in_phase(order, advance(order.phase, event), order.version + 1)


def fold(events: Iterable[Event], order: Order | None = None) -> Order | None:
    """The state after `events`, starting from `order` (None: before the order was placed): evolve, one
    event after the other. The phase is carried along and the order built once at the end."""
    phase, version = (order.phase, order.version) if order is not None else (None, 0)
    for event in events:
        if phase is None or isinstance(event, OrderPlaced):
            order = evolve(_settled(order, phase, version), event)
            phase, version = order.phase, order.version
        else:
            phase, version = advance(phase, event), version + 1
    return _settled(order, phase, version)


def _settled(order: Order | None, phase: Phase | None, version: int) -> Order | None:
    if order is None or phase is None or (phase, version) == (order.phase, order.version):
        return order
    return _in_phase(order, phase, version)


def execute(order: Order | None, command: Command) -> tuple[Order | None, list[Event]]:
    """Decide `command` and evolve by what it records: the new state and the new events."""
    events = decide(order, command)
    return fold(events, order), events
