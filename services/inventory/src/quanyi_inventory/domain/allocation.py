"""The allocation policy: a paid order gets one key per unit of every line, or nothing at all.

An order's allocation (aggregate Allocation, one per order) is decided once: KeyReserved or StockShort,
version 1. A batch of paid orders is decided together, in order, from the keys claimed for the whole batch.
A key is handed out only on its channel (or when universal) and only within its validity window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.events import (
    ALLOCATION,
    BundleComponent,
    ClaimedKey,
    Entitlement,
    Event,
    KeyReserved,
    Recorded,
    ReservedEntitlement,
    ShortLine,
    StockShort,
)
from quanyi_inventory.domain.stock import SkuStock, report_if_low, stock_is_low

__all__ = [
    "Allocation",
    "AvailableKey",
    "BatchAllocation",
    "Claim",
    "ClaimedKey",
    "OrderLine",
    "PaidOrder",
    "Reserved",
    "Short",
    "ShortLine",
    "allocate",
    "claims_needed",
    "decide",
    "evolve",
    "keys_needed",
    "lines_to_fill",
    "stock_is_low",
    "usable",
]


@dataclass(frozen=True)
class OrderLine:
    """A line of a paid order: `quantity` units of `sku_id`."""

    line_no: int
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class PaidOrder:
    """The command: give this paid order its keys."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]
    # When it was paid (its OrderPaid's time), passed on in KeyReserved for delivery latency.
    paid_at: datetime | None = None


@dataclass(frozen=True)
class AvailableKey:
    """A key of `sku_id` that is free to claim, with what it cost, where it is from and when it is valid.

    `channel` "" is universal; `valid_from` / `expires_at` None mean no bound.
    """

    key_id: str
    sku_id: str
    unit_cost_minor: int
    currency: str
    pool_id: str = ""
    channel: str = ""
    valid_from: datetime | None = None
    expires_at: datetime | None = None


def usable(key: AvailableKey, channel: str, now: datetime) -> bool:
    """A key may go to an order of `channel` at `now`: universal or of that channel, valid from on or
    before `now` and expiring after it."""
    return (
        key.channel in ("", channel)
        and (key.valid_from is None or key.valid_from <= now)
        and (key.expires_at is None or key.expires_at > now)
    )


Claim = tuple[str, str]
"""What a claim is for: (SKU, sales channel)."""


@dataclass(frozen=True)
class Reserved:
    """Every unit of the order has its key, in (line, unit) order, and its bundles' points and
    memberships."""

    keys: tuple[ClaimedKey, ...]
    entitlements: tuple[ReservedEntitlement, ...] = ()


@dataclass(frozen=True)
class Short:
    """At least one line could not be filled; the order keeps no key."""

    lines: tuple[ShortLine, ...]


Allocation = Reserved | Short


def evolve(state: Allocation | None, event: Event) -> Allocation | None:
    """An order's allocation after `event`: the first decision stands."""
    if state is not None:
        return state
    if isinstance(event, KeyReserved):
        return Reserved(event.keys, event.entitlements)
    if isinstance(event, StockShort):
        return Short(event.lines)
    return None


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


def keys_needed(orders: Sequence[PaidOrder]) -> dict[str, int]:
    """The most keys per SKU that `orders` can take: every unit of every line."""
    needed: dict[str, int] = {}
    for order in orders:
        for line in order.lines:
            if line.quantity > 0:
                needed[line.sku_id] = needed.get(line.sku_id, 0) + line.quantity
    return needed


def claims_needed(
    orders: Sequence[PaidOrder], bundles: Mapping[str, Sequence[BundleComponent]] | None = None
) -> dict[Claim, int]:
    """How many keys to claim per (SKU, channel) so that `orders` can all be filled if the pool allows:
    every unit of the orders of that channel (a bundle's units as its components' keys), plus those of
    the SKU's other channels in the batch, since the universal keys both claims return may go to either."""
    per_claim: dict[Claim, int] = {}
    for order in orders:
        for line in order.lines:
            if line.quantity <= 0:
                continue
            parts = [(c.sku_id, c.quantity) for c in (bundles or {}).get(line.sku_id, ())]
            for sku_id, per_unit in parts or [(line.sku_id, 1)]:
                claim = (sku_id, order.channel)
                per_claim[claim] = per_claim.get(claim, 0) + line.quantity * per_unit
    per_sku: dict[str, int] = {}
    for (sku_id, _), n in per_claim.items():
        per_sku[sku_id] = per_sku.get(sku_id, 0) + n
    return {claim: per_sku[claim[0]] for claim in per_claim}


@dataclass(frozen=True)
class BatchAllocation:
    """What a batch of paid orders decided.

    `outcomes` holds every order of the batch (those decided before keep their first outcome); `stock`
    the touched SKUs after the batch; `recorded` the new events, in order: each new order's KeyReserved or
    StockShort in batch order, then StockLow for SKUs that fell to their threshold.
    """

    outcomes: dict[str, Allocation]
    stock: dict[str, SkuStock]
    recorded: list[Recorded]


def allocate(
    orders: Sequence[PaidOrder],
    decided: Mapping[str, Allocation],
    stock: Mapping[str, SkuStock],
    available: Mapping[Claim, Sequence[AvailableKey]],
    now: datetime,
    bundles: Mapping[str, Sequence[BundleComponent]] | None = None,
    entitlements: Mapping[str, Sequence[Entitlement]] | None = None,
) -> BatchAllocation:
    """Decide a batch of paid orders in order, all or nothing per order.

    `decided` are the batch's orders that already have an outcome (they get it again and record nothing);
    `stock` the current stock of the batch's SKUs; `available` the keys claimed for the batch per (SKU,
    channel), in the order they are to be handed out (pool priority, then the SKU's strategy). Each key
    goes out at most once, only to an order of its channel (universal keys to any) and only when valid at
    `now`. A line that finds too few keys makes its order short; the keys it would have taken stay for the
    next orders. A line of a bundle SKU (`bundles`: its components) takes every component's keys, all or
    none; short, it names how many whole bundles were found. A bundle's points and memberships
    (`entitlements`) are unlimited: each unit of the line reserves them (numbered on after the line's keys)
    when its keys are found, and a bundle of those only needs no key. Raises InvalidInput for an order
    that can never be filled correctly (`lines_to_fill`).
    """
    bundles = bundles or {}
    entitlements = entitlements or {}
    taken: set[str] = set()
    cursor: dict[Claim, int] = {}
    after = dict(stock)
    outcomes: dict[str, Allocation] = {}
    recorded: list[Recorded] = []
    last_reserver: dict[str, str] = {}
    reserved_of: dict[str, int] = {}
    for order in orders:
        if order.order_id in outcomes:
            continue
        previous = decided.get(order.order_id)
        if previous is not None:
            outcomes[order.order_id] = previous
            continue
        lines = lines_to_fill(order.lines)
        taking: set[str] = set()
        claimed: list[ClaimedKey] = []
        reserved: list[ReservedEntitlement] = []
        short: list[ShortLine] = []
        for line in lines:
            # A bundle's line takes every component's keys (its own ReservedKeys, units numbered on
            # through the components) or none; a plain SKU is a bundle of itself.
            extras = entitlements.get(line.sku_id, ())
            parts = [(c.sku_id, c.quantity) for c in bundles.get(line.sku_id, ())]
            if not parts and not extras:
                parts = [(line.sku_id, 1)]
            got_parts: list[list[AvailableKey]] = []
            complete = line.quantity
            for sku_id, per_unit in parts:
                claim = (sku_id, order.channel)
                keys = available.get(claim, ())
                # Keys before the cursor are taken or unusable: each key is passed over once per batch.
                start = cursor.get(claim, 0)
                while start < len(keys) and (
                    keys[start].key_id in taken or not usable(keys[start], order.channel, now)
                ):
                    start += 1
                cursor[claim] = start
                got = _take(keys[start:], line.quantity * per_unit, order.channel, now, taken, taking)
                taking.update(k.key_id for k in got)
                got_parts.append(got)
                complete = min(complete, len(got) // per_unit)
            if complete < line.quantity:
                short.append(ShortLine(line.line_no, line.sku_id, line.quantity, complete))
                continue
            line_keys = [k for got in got_parts for k in got]
            claimed.extend(
                ClaimedKey(k.key_id, k.sku_id, line.line_no, unit, k.unit_cost_minor, k.currency, k.pool_id)
                for unit, k in enumerate(line_keys, start=1)
            )
            units = (e for e in extras for _ in range(line.quantity))
            reserved.extend(
                ReservedEntitlement(line.line_no, unit, line.sku_id, e)
                for unit, e in enumerate(units, start=len(line_keys) + 1)
            )
        outcome: Allocation
        event: Event
        if short:
            outcome = Short(tuple(short))
            event = StockShort(order.order_id, tuple(short))
        else:
            taken |= taking
            outcome = Reserved(tuple(claimed), tuple(reserved))
            event = KeyReserved(
                order.order_id, order.buyer_id, order.buyer_email, order.channel, tuple(claimed),
                tuple(reserved), order.paid_at,
            )
            for k in claimed:
                reserved_of[k.sku_id] = reserved_of.get(k.sku_id, 0) + 1
                last_reserver[k.sku_id] = order.order_id
        outcomes[order.order_id] = outcome
        recorded.append(Recorded(ALLOCATION, order.order_id, 1, event, cause=order.order_id))
    for sku_id in sorted(last_reserver):
        if sku_id in after:
            # As evolving the stock by each KeyReserved in turn would (one step: CPU per batch).
            n = reserved_of[sku_id]
            counted = replace(after[sku_id], available=after[sku_id].available - n,
                              reserved=after[sku_id].reserved + n)
            after[sku_id], low = report_if_low(counted, cause=last_reserver[sku_id])
            recorded.extend(low)
    return BatchAllocation(outcomes, {sku: after[sku] for sku in stock}, recorded)


def _take(
    keys: Sequence[AvailableKey], n: int, channel: str, now: datetime, taken: set[str], taking: set[str]
) -> list[AvailableKey]:
    """The first `n` keys of `keys` (in hand-out order) usable on `channel` at `now` and not taken."""
    got: list[AvailableKey] = []
    for key in keys:
        if len(got) == n:
            break
        if key.key_id not in taken and key.key_id not in taking and usable(key, channel, now):
            got.append(key)
    return got
