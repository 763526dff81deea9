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


@dataclass(frozen=True)
class PaymentCaptured:
    order_id: str
    provider: str
    txn_id: str
    amount: Money


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


Event = (
    OrderPlaced
    | PaymentCaptured
    | OrderPaid
    | OrderApproved
    | OrderHeld
    | OrderCancelled
    | OrderRefunded
    | OrderFulfilled
)


@dataclass(frozen=True)
class PaymentNoticeAccepted:
    """A provider's authenticated notice was accepted. Its own aggregate, (provider, nonce): once each."""

    provider: str
    nonce: str
    order_id: str
    txn_id: str
    notice_id: str
