"""Fulfillment's domain errors. Their messages name orders and key ids, never a key's code or password."""

from __future__ import annotations


class FulfillmentError(Exception):
    """A delivery or redemption that cannot proceed as asked."""


class InvalidReservation(FulfillmentError):
    """A reservation that cannot be delivered as it stands (no keys, a key twice)."""


class ConflictingReservation(FulfillmentError):
    """An order already delivered is reserved again with other keys; a person must look (I1)."""


class RevealMismatch(FulfillmentError):
    """Inventory revealed other keys than the order holds."""


class InvalidRedemption(FulfillmentError):
    """A redemption report that is malformed (no partner, a time that is not RFC 3339 with a zone)."""


class DeliveryNotFound(FulfillmentError):
    """No delivered key with this id."""


class KeyAlreadyDelivered(FulfillmentError):
    """A key is already in another order's user centre: a key goes to one order, once (I1)."""


class InvalidChannelRequest(FulfillmentError):
    """A request for the keys on a channel that cannot be asked for, or without a target or requester."""
