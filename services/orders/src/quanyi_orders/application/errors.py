"""Refusals of the use cases that are not the order's own (those are in domain.errors)."""

from __future__ import annotations


class OrderNotFound(Exception):
    def __init__(self, order_id: str) -> None:
        super().__init__("order not found")
        self.order_id = order_id


class NoticeReplayed(Exception):
    """The provider already sent a notice with this nonce."""

    def __init__(self) -> None:
        super().__init__("notice replayed")


class PaymentBelongsToAnotherOrder(Exception):
    """The provider's transaction id was already captured for a different order."""

    def __init__(self) -> None:
        super().__init__("the payment belongs to another order")
