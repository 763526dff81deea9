"""Money: integer minor units with a currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units with its ISO 4217 currency; never a float."""

    minor_units: int
    currency: str
