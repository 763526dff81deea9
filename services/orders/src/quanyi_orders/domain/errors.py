"""What an order refuses. Messages are short and safe to show to a buyer or an operator."""

from __future__ import annotations


class OrderError(Exception):
    """A command the order refuses; nothing was recorded."""


class InvalidOrder(OrderError):
    """The order as asked for cannot be placed (no lines, a bad quantity, mixed currencies, ...)."""


class AmountMismatch(OrderError):
    """A payment's amount or currency differs from the order's total."""

    def __init__(self) -> None:
        super().__init__("amount does not match the order")


class NotAllowed(OrderError):
    """The order's status does not allow the command."""
