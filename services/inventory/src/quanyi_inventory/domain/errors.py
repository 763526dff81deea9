"""Inventory's errors. Their messages are safe to show to a user: they never contain a key."""

from __future__ import annotations


class InventoryError(Exception):
    """Base class of the errors inventory reports to its callers."""


class InvalidInput(InventoryError):
    """The request is malformed (maps to INVALID_ARGUMENT)."""


class NotFound(InventoryError):
    """A named product, SKU, pool, order or key does not exist (maps to NOT_FOUND)."""


class Unauthenticated(InventoryError):
    """The caller proved no identity (maps to UNAUTHENTICATED)."""


class PermissionDenied(InventoryError):
    """The caller's identity may not do this (maps to PERMISSION_DENIED)."""


class AlreadyExists(InventoryError):
    """The named thing exists already (maps to ALREADY_EXISTS)."""
