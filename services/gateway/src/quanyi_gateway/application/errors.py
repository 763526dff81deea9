"""What the use cases refuse; the HTTP layer maps each to a problem document."""

from __future__ import annotations


class EmailTaken(Exception):
    """An account with this e-mail address exists."""


class BadCredentials(Exception):
    """No account matches this e-mail address and password."""


class UnknownSku(Exception):
    """The catalogue has no SKU with this id."""

    def __init__(self, sku_id: str) -> None:
        super().__init__(f"unknown SKU {sku_id}")
        self.sku_id = sku_id


class OrderNotFound(Exception):
    """No such order, or not one the user may see (the two are indistinguishable on purpose)."""


class UnknownKey(Exception):
    """No key has this code."""


class OperatorNotFound(Exception):
    """No operator account has this id (a buyer's id is none either)."""


class ConfiguredOwner(Exception):
    """The owner configured by the environment (QUANYI_ADMIN_EMAIL) keeps its role and its account."""


class NotRefundable(Exception):
    """The order's money was not taken, or was returned already: there is nothing to ask back."""

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(f"order {order_id} is {status}")
        self.order_id = order_id
        self.status = status
