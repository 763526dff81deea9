"""Money: an integer amount of minor units (fen for CNY) and its ISO 4217 currency."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    minor_units: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor_units + other.minor_units, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.minor_units * quantity, self.currency)

    @staticmethod
    def zero(currency: str) -> Money:
        return Money(0, currency)
