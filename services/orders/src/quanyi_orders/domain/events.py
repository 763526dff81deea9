"""Facts an order records. Adapters map them to the protos of quanyi.orders.v1."""

from __future__ import annotations

from dataclasses import dataclass
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
    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]
    total: Money


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
class OrderHeld:
    order_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class OrderCancelled:
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
    OrderPlaced | PaymentCaptured | OrderPaid | OrderHeld | OrderCancelled | OrderRefunded | OrderFulfilled
)
