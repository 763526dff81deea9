"""The Order aggregate: placing, payment, the risk decision, review, and the end of fulfilment.

An order is released to fulfilment (OrderPaid) only when both its payment is captured and risk has
approved it; the two arrive in either order. Every recorded event raises `version` by one; the
repository saves the state and appends the events in one transaction, expecting the version it loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import AmountMismatch, InvalidOrder, NotAllowed
from quanyi_orders.domain.events import (
    Event,
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


class Order:
    """One buyer's order. Commands either record events and change state, or raise and change nothing."""

    def __init__(
        self,
        *,
        order_id: str,
        buyer_id: str,
        buyer_email: str,
        channel: str,
        lines: Sequence[OrderLine],
        total: Money,
        status: Status,
        risk_decision: RiskDecision,
        captured_txn_id: str | None,
        version: int,
        placed_at: datetime,
    ) -> None:
        self.order_id = order_id
        self.buyer_id = buyer_id
        self.buyer_email = buyer_email
        self.channel = channel
        self.lines = tuple(lines)
        self.total = total
        self.status = status
        self.risk_decision = risk_decision
        self.captured_txn_id = captured_txn_id
        self.version = version
        self.placed_at = placed_at
        self.pending_events: list[Event] = []
        self.changed = False

    # -- placing -----------------------------------------------------------------------------------

    @classmethod
    def place(
        cls,
        *,
        order_id: str,
        buyer_id: str,
        buyer_email: str,
        channel: str,
        lines: Sequence[tuple[str, int, Money]],
        placed_at: datetime,
    ) -> Order:
        """A new order awaiting payment and risk's decision; records OrderPlaced (version 1)."""
        if not buyer_id:
            raise InvalidOrder("a buyer is required")
        if not lines:
            raise InvalidOrder("an order needs at least one line")
        currency = lines[0][2].currency
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise InvalidOrder("prices need a three-letter currency code")
        priced: list[OrderLine] = []
        for n, (sku_id, quantity, unit_price) in enumerate(lines, start=1):
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
        order = cls(
            order_id=order_id,
            buyer_id=buyer_id,
            buyer_email=buyer_email,
            channel=channel,
            lines=priced,
            total=total,
            status=Status.PENDING_PAYMENT,
            risk_decision=RiskDecision.PENDING,
            captured_txn_id=None,
            version=0,
            placed_at=placed_at,
        )
        order._record(OrderPlaced(order_id, buyer_id, buyer_email, channel, order.lines, total))
        return order

    # -- risk --------------------------------------------------------------------------------------

    def record_risk(self, decision: RiskDecision, reasons: Sequence[str] = ()) -> None:
        """Apply risk's verdict, which may come before or after the payment. Only the first one counts."""
        if decision is RiskDecision.PENDING:
            raise ValueError("a risk decision cannot be PENDING")
        if self.risk_decision is not RiskDecision.PENDING:
            return
        self.risk_decision = decision
        self.changed = True
        if decision is RiskDecision.APPROVE:
            if self.status is Status.CAPTURED:
                self._release()
        elif decision is RiskDecision.REVIEW:
            self.status = Status.UNDER_REVIEW
            self._record(OrderHeld(self.order_id, tuple(reasons)))
        else:
            self._refuse(RefundReason.REVIEW_REJECTED, "rejected by risk")

    def review(self, approve: bool) -> None:
        """A person's decision on an order held for review."""
        if self.status is not Status.UNDER_REVIEW:
            raise NotAllowed("the order is not under review")
        self.changed = True
        if approve:
            self.risk_decision = RiskDecision.APPROVE
            if self.captured_txn_id is not None:
                self._release()
            else:
                self.status = Status.PENDING_PAYMENT
        else:
            self.risk_decision = RiskDecision.REJECT
            self._refuse(RefundReason.REVIEW_REJECTED, "rejected in review")

    # -- payment -----------------------------------------------------------------------------------

    def capture_payment(self, amount: Money, provider: str, txn_id: str) -> bool:
        """Record the provider's confirmed payment. Returns False when `txn_id` was already captured.

        The amount must equal the order's total exactly (AmountMismatch otherwise, nothing recorded).
        Payment is accepted while the order awaits it or is held for review; a held order stays held.
        """
        if amount != self.total:
            raise AmountMismatch()
        if not txn_id:
            raise NotAllowed("a payment needs the provider's transaction id")
        if self.captured_txn_id == txn_id:
            return False
        if self.captured_txn_id is not None:
            raise NotAllowed("the order is already paid by another transaction")
        if self.status not in (Status.PENDING_PAYMENT, Status.UNDER_REVIEW):
            raise NotAllowed(f"an order that is {self.status.value} cannot take a payment")
        self.captured_txn_id = txn_id
        self.changed = True
        self._record(PaymentCaptured(self.order_id, provider, txn_id, amount))
        if self.status is Status.PENDING_PAYMENT:
            if self.risk_decision is RiskDecision.APPROVE:
                self._release()
            else:
                self.status = Status.CAPTURED
        return True

    # -- fulfilment --------------------------------------------------------------------------------

    def stock_short(self) -> None:
        """Not enough keys for a released order: the money is owed back (OrderRefunded, for the ledger)."""
        if self.status is Status.REFUNDED:
            return
        if self.status is not Status.PAID:
            raise NotAllowed(f"an order that is {self.status.value} cannot run short of stock")
        self.changed = True
        self.status = Status.REFUNDED
        self._record(OrderRefunded(self.order_id, self.channel, self.total, RefundReason.STOCK_SHORT, True))

    def delivered(self) -> None:
        """Every unit has been delivered."""
        if self.status is Status.FULFILLED:
            return
        if self.status is not Status.PAID:
            raise NotAllowed(f"an order that is {self.status.value} cannot be delivered")
        self.changed = True
        self.status = Status.FULFILLED
        self._record(OrderFulfilled(self.order_id))

    # -- internals ---------------------------------------------------------------------------------

    def _release(self) -> None:
        assert self.captured_txn_id is not None
        self.status = Status.PAID
        self._record(
            OrderPaid(
                self.order_id, self.buyer_id, self.buyer_email, self.channel, self.lines, self.total,
                self.captured_txn_id,
            )
        )

    def _refuse(self, refund_reason: RefundReason, cancel_reason: str) -> None:
        """Refund a captured (never released) order, or cancel an unpaid one."""
        if self.captured_txn_id is not None:
            self.status = Status.REFUNDED
            self._record(OrderRefunded(self.order_id, self.channel, self.total, refund_reason, False))
        else:
            self.status = Status.CANCELLED
            self._record(OrderCancelled(self.order_id, cancel_reason))

    def _record(self, event: Event) -> None:
        self.pending_events.append(event)
        self.version += 1
        self.changed = True
