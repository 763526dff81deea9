"""The allocation policy: a paid order gets one key per unit of every line, or nothing at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quanyi_inventory.domain.errors import InvalidInput


@dataclass(frozen=True)
class OrderLine:
    """A line of a paid order: `quantity` units of `sku_id`."""

    line_no: int
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class ClaimedKey:
    """One key claimed for one unit (from 1) of one line (from 1) of an order."""

    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    unit_cost_minor: int
    currency: str


@dataclass(frozen=True)
class ShortLine:
    """A line that could not be filled: `available` keys were found for `wanted` units."""

    line_no: int
    sku_id: str
    wanted: int
    available: int


@dataclass(frozen=True)
class Reserved:
    """Every unit of the order has its key, in (line, unit) order."""

    keys: tuple[ClaimedKey, ...]


@dataclass(frozen=True)
class Short:
    """At least one line could not be filled; the order keeps no key."""

    lines: tuple[ShortLine, ...]


Allocation = Reserved | Short


def lines_to_fill(lines: Sequence[OrderLine]) -> list[OrderLine]:
    """The lines that need keys, in line order; lines of zero units need none.

    Raises InvalidInput for a negative quantity or a line number used twice: such an order cannot be
    filled correctly, and retrying would not change that.
    """
    numbers = [line.line_no for line in lines]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("an order line number appears twice")
    if any(line.quantity < 0 for line in lines):
        raise InvalidInput("an order line has a negative quantity")
    if any(line.line_no < 1 for line in lines):
        raise InvalidInput("order line numbers start at 1")
    return sorted((line for line in lines if line.quantity > 0), key=lambda line: line.line_no)


def decide(lines: Sequence[OrderLine], claimed: Mapping[int, Sequence[ClaimedKey]]) -> Allocation:
    """All or nothing: Reserved when every line got a key per unit, else Short naming the short lines.

    `claimed` maps a line number to the keys the claim for that line returned.
    """
    short = tuple(
        ShortLine(line.line_no, line.sku_id, line.quantity, len(claimed.get(line.line_no, ())))
        for line in lines
        if len(claimed.get(line.line_no, ())) < line.quantity
    )
    if short:
        return Short(short)
    keys = [key for line in lines for key in claimed.get(line.line_no, ())]
    return Reserved(tuple(sorted(keys, key=lambda k: (k.line_no, k.unit_no))))


def stock_is_low(available: int, threshold: int) -> bool:
    """A SKU with a threshold is low once its available keys have fallen to it; 0 means no alert."""
    return threshold > 0 and available <= threshold
