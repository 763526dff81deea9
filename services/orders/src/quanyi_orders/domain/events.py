"""Facts an order records, and the fact of an accepted payment notice. Adapters map them to the protos of
quanyi.orders.v1; the order's state is a fold of its facts (`domain.order.evolve`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.money import Money


@dataclass(frozen=True)
class OrderLine:
    """One SKU and quantity, priced when the order was placed. `line_no` counts from 1."""

    line_no: int
    sku_id: str
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


class RefundReason(Enum):
    STOCK_SHORT = "STOCK_SHORT"
    REVIEW_REJECTED = "REVIEW_REJECTED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    OPERATOR = "OPERATOR"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    ORDER_NOT_PAYABLE = "ORDER_NOT_PAYABLE"
    DUPLICATE_PAYMENT = "DUPLICATE_PAYMENT"


@dataclass(frozen=True)
class OrderPlaced:
    """A new order, awaiting payment and risk's decision. It carries everything the order's state holds."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]
    total: Money
    idempotency_key: str
    placed_at: datetime
    #: The order expires unless paid by then; None: it never expires (placed before expiry existed).
    pay_by: datetime | None = None
    #: A keyed digest of the client address it was placed from ("" when none was given): the stock holds
    #: of unpaid orders are capped per address without the address entering an event.
    client_tag: str = ""
    #: The coupon applied ("" for none) and what it took off the lines' sum: `total` is what the buyer pays.
    coupon_code: str = ""
    discount: Money | None = None


@dataclass(frozen=True)
class PaymentCaptured:
    """The provider took `amount` in `txn_id`. With `refused` set the order could not take it: the money is
    recorded, the order's phase does not change, and a RefundRequested of it follows."""

    order_id: str
    provider: str
    txn_id: str
    amount: Money
    refused: RefundReason | None = None


@dataclass(frozen=True)
class OrderPaid:
    """The order is paid and cleared by risk: fulfilment may start."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]
    total: Money
    txn_id: str
    #: What a coupon took off the lines' sum (None: no coupon); `total` is what was paid.
    discount: Money | None = None


@dataclass(frozen=True)
class OrderApproved:
    """Risk (or, with `reviewed`, a reviewer) approved an order not paid yet: its payment will release it."""

    order_id: str
    reviewed: bool


@dataclass(frozen=True)
class OrderHeld:
    order_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class OrderCancelled:
    """An unpaid order is cancelled. Every cancellation so far is a rejection, by risk or in review."""

    order_id: str
    reason: str


@dataclass(frozen=True)
class OrderRefunded:
    """The captured money is owed back to the buyer; recorded as a fact for the ledger."""

    order_id: str
    channel: str
    amount: Money
    reason: RefundReason
    was_released: bool


@dataclass(frozen=True)
class OrderFulfilled:
    order_id: str


@dataclass(frozen=True)
class OrderExpired:
    """The order was not paid by `pay_by`. A payment that comes later still completes it."""

    order_id: str
    pay_by: datetime


@dataclass(frozen=True)
class RefundLine:
    """`quantity` units of order line `line_no`, refunded for `amount`: of them, `released` had no key
    delivered yet, `voided` a delivered key not redeemed, `redeemed` a redeemed key (an override)."""

    line_no: int
    sku_id: str
    quantity: int
    amount: Money
    released: int = 0
    voided: int = 0
    redeemed: int = 0


@dataclass(frozen=True)
class RefundRequested:
    """Money owed back, to be sent through the provider's refund API; `refund_id` is the provider's
    out_refund_no, so a retried call refunds once. `lines` is empty for a payment the order refused."""

    order_id: str
    refund_id: str
    provider: str
    txn_id: str
    amount: Money
    reason: RefundReason
    lines: tuple[RefundLine, ...]
    actor: str = "system"
    override_redeemed: bool = False
    note: str = ""


@dataclass(frozen=True)
class RefundSent:
    """The refund API was called (`attempt`, from 1) and answered `outcome`; look again at next_attempt_at."""

    order_id: str
    refund_id: str
    attempt: int
    outcome: str
    next_attempt_at: datetime


@dataclass(frozen=True)
class RefundSucceeded:
    """The provider confirmed the refund: recorded once per refund; the ledger reverses from it."""

    order_id: str
    refund_id: str
    amount: Money
    provider: str
    lines: tuple[RefundLine, ...]
    provider_refund_id: str
    reason: RefundReason


@dataclass(frozen=True)
class RefundKeysCleared:
    """Inventory answered a refund that names keys: taken back (the refund may go to the provider), or
    `refused` with its `reason` (the refund is not sent)."""

    order_id: str
    refund_id: str
    refused: bool = False
    reason: str = ""


@dataclass(frozen=True)
class RefundDeclined:
    """An operator closed a refund inventory refused: `action` "decline" (the buyer is answered no) or
    "override" (replaced by a refund with the override of redeemed keys). Its money is never sent."""

    order_id: str
    refund_id: str
    action: str
    actor: str
    note: str


@dataclass(frozen=True)
class OrderQueued:
    """A paid order needs an operator (`source`: "delivery" given up, or the "deadline" passed)."""

    order_id: str
    reason: str
    source: str


@dataclass(frozen=True)
class QueueEntryResolved:
    """An operator acted on an order in the exception queue: "refund" or "resolve"."""

    order_id: str
    action: str
    actor: str
    note: str


Event = (
    OrderPlaced
    | PaymentCaptured
    | OrderPaid
    | OrderApproved
    | OrderHeld
    | OrderCancelled
    | OrderRefunded
    | OrderFulfilled
    | OrderExpired
    | RefundRequested
    | RefundSent
    | RefundSucceeded
    | RefundKeysCleared
    | RefundDeclined
    | OrderQueued
    | QueueEntryResolved
)


@dataclass(frozen=True)
class PaymentNoticeAccepted:
    """A provider's authenticated notice was accepted. Its own aggregate, (provider, nonce): once each."""

    provider: str
    nonce: str
    order_id: str
    txn_id: str
    notice_id: str
