"""Coupons: the operator's definition (an aggregate of its own) and what one takes off an order.

A coupon is the fold of its events (CouponCreated, then perhaps CouponDisabled); its aggregate id is its
code case-folded, so two codes that differ only in case are one coupon. `discount` is the pure decision a
placement asks: given the coupon, how many orders hold a use of it (over all buyers and the buyer's own)
and the order's lines at `now`, the amount off, or CouponRefused with a reason safe to show the buyer.

Rounding: a percent coupon takes `eligible × bps // 10000`, rounded DOWN to a whole minor unit (fen); then
at most its `max_discount`; a fixed coupon at most the eligible lines' sum. Whatever the coupon, the order
keeps at least one minor unit to pay: a payment is what releases an order, and there is no free checkout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from quanyi_orders.domain.errors import InvalidOrder, NotAllowed, OrderError
from quanyi_orders.domain.events import OrderLine
from quanyi_orders.domain.money import Money

MAX_BPS = 10_000
MAX_CODE_LENGTH = 64


class CouponRefused(OrderError):
    """The order cannot take the coupon (the message says why, safe to show to the buyer)."""


class CouponExists(OrderError):
    """A coupon with this code (compared case-insensitively) is defined already."""


class CouponNotFound(OrderError):
    """No coupon has this code."""


class CouponKind(Enum):
    FIXED = "FIXED"
    PERCENT = "PERCENT"


def code_key(code: str) -> str:
    """The coupon's identity: its code trimmed and case-folded (buyers type codes in any case)."""
    return code.strip().casefold()


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon is, as the operator defines it. Caps of 0 and None limits mean none."""

    code: str
    kind: CouponKind
    amount_off: Money | None = None
    percent_off_bps: int = 0
    max_discount: Money | None = None
    min_order: Money | None = None
    sku_ids: frozenset[str] = frozenset()
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    total_cap: int = 0
    per_buyer_cap: int = 0


@dataclass(frozen=True)
class CouponCreated:
    terms: CouponTerms
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class CouponDisabled:
    code: str
    actor: str


CouponEvent = CouponCreated | CouponDisabled


@dataclass(frozen=True)
class Coupon:
    terms: CouponTerms
    created_by: str
    created_at: datetime
    disabled: bool = False
    version: int = 1

    @property
    def key(self) -> str:
        return code_key(self.terms.code)


# -- commands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateCoupon:
    terms: CouponTerms
    actor: str
    now: datetime


@dataclass(frozen=True)
class DisableCoupon:
    actor: str


def _check_terms(t: CouponTerms) -> None:
    code = t.code.strip()
    if not code or len(code) > MAX_CODE_LENGTH or not all(c.isalnum() or c in "-_" for c in code):
        raise InvalidOrder(f"a coupon code is 1 to {MAX_CODE_LENGTH} letters, digits, '-' or '_'")
    if t.kind is CouponKind.FIXED:
        if t.amount_off is None or t.amount_off.minor_units <= 0:
            raise InvalidOrder("a fixed coupon needs a positive amount off")
        if t.percent_off_bps or t.max_discount is not None:
            raise InvalidOrder("a fixed coupon has no percent off nor maximum discount")
    else:
        if not 1 <= t.percent_off_bps <= MAX_BPS:
            raise InvalidOrder(f"a percent coupon takes 1 to {MAX_BPS} basis points off")
        if t.amount_off is not None:
            raise InvalidOrder("a percent coupon has no fixed amount off")
        if t.max_discount is not None and t.max_discount.minor_units <= 0:
            raise InvalidOrder("the maximum discount must be positive")
    if t.min_order is not None and t.min_order.minor_units < 0:
        raise InvalidOrder("the minimum order must not be negative")
    currencies = {m.currency for m in (t.amount_off, t.max_discount, t.min_order) if m is not None}
    if len(currencies) > 1:
        raise InvalidOrder("a coupon's amounts must be in one currency")
    if any(len(c) != 3 or not c.isalpha() or not c.isupper() for c in currencies):
        raise InvalidOrder("amounts need a three-letter currency code")
    if t.total_cap < 0 or t.per_buyer_cap < 0:
        raise InvalidOrder("a cap must not be negative (0: no cap)")
    for at in (t.valid_from, t.expires_at):
        if at is not None and at.tzinfo is None:
            raise InvalidOrder("coupon times need a time zone")
    if t.valid_from is not None and t.expires_at is not None and t.expires_at <= t.valid_from:
        raise InvalidOrder("a coupon must expire after it becomes valid")
    if any(not s for s in t.sku_ids):
        raise InvalidOrder("a SKU of the coupon is empty")


def decide(coupon: Coupon | None, command: CreateCoupon | DisableCoupon) -> list[CouponEvent]:
    """The events the command records (raises OrderError when refused; a second disable records nothing)."""
    if isinstance(command, CreateCoupon):
        if coupon is not None:
            raise CouponExists(f"a coupon {coupon.terms.code!r} exists already")
        _check_terms(command.terms)
        return [CouponCreated(replace(command.terms, code=command.terms.code.strip()), command.actor,
                              command.now)]
    if coupon is None:
        raise CouponNotFound("no such coupon")
    if coupon.disabled:
        return []
    return [CouponDisabled(coupon.terms.code, command.actor)]


def evolve(coupon: Coupon | None, event: CouponEvent) -> Coupon:
    if isinstance(event, CouponCreated):
        if coupon is not None:
            raise ValueError(f"coupon {event.terms.code} is created already")
        return Coupon(event.terms, event.actor, event.created_at)
    if coupon is None:
        raise ValueError(f"coupon {event.code} was never created")
    return replace(coupon, disabled=True, version=coupon.version + 1)


def fold(events: Iterable[CouponEvent], coupon: Coupon | None = None) -> Coupon | None:
    for event in events:
        coupon = evolve(coupon, event)
    return coupon


# -- applying a coupon -----------------------------------------------------------------------------


@dataclass
class Usage:
    """How many orders hold a use of a coupon now, in all and per buyer (`take` counts one more)."""

    total: int = 0
    by_buyer: dict[str, int] | None = None

    def of(self, buyer_id: str) -> int:
        return (self.by_buyer or {}).get(buyer_id, 0)

    def take(self, buyer_id: str) -> None:
        self.total += 1
        if self.by_buyer is None:
            self.by_buyer = {}
        self.by_buyer[buyer_id] = self.of(buyer_id) + 1


def discount(
    coupon: Coupon | None, usage: Usage, buyer_id: str, lines: Sequence[OrderLine], now: datetime
) -> Money:
    """What `coupon` takes off an order of `lines` placed by `buyer_id` at `now`, given the uses held
    (`usage`); raises CouponRefused with the reason. See the module's docstring for the rounding."""
    if coupon is None:
        raise CouponRefused("unknown coupon code")
    t = coupon.terms
    if coupon.disabled:
        raise CouponRefused(f"coupon {t.code} is disabled")
    if t.valid_from is not None and now < t.valid_from:
        raise CouponRefused(f"coupon {t.code} is not valid before {t.valid_from.isoformat()}")
    if t.expires_at is not None and now >= t.expires_at:
        raise CouponRefused(f"coupon {t.code} expired at {t.expires_at.isoformat()}")
    if not lines:
        raise NotAllowed("an order needs at least one line")
    currency = lines[0].unit_price.currency
    gross = sum(ln.subtotal.minor_units for ln in lines)
    amounts = [m for m in (t.amount_off, t.max_discount, t.min_order) if m is not None]
    if any(m.currency != currency for m in amounts):
        raise CouponRefused(f"coupon {t.code} is not for orders in {currency}")
    if t.min_order is not None and gross < t.min_order.minor_units:
        raise CouponRefused(
            f"coupon {t.code} needs an order of at least {t.min_order.minor_units} {currency} minor units"
        )
    eligible = sum(ln.subtotal.minor_units for ln in lines if not t.sku_ids or ln.sku_id in t.sku_ids)
    if eligible <= 0:
        raise CouponRefused(f"coupon {t.code} applies to none of the order's SKUs")
    if t.total_cap and usage.total >= t.total_cap:
        raise CouponRefused(f"coupon {t.code} is used up")
    if t.per_buyer_cap and usage.of(buyer_id) >= t.per_buyer_cap:
        raise CouponRefused(f"coupon {t.code} is used up for this buyer (at most {t.per_buyer_cap})")
    if t.kind is CouponKind.FIXED:
        assert t.amount_off is not None
        off = min(t.amount_off.minor_units, eligible)
    else:
        off = eligible * t.percent_off_bps // MAX_BPS  # rounded down
        if t.max_discount is not None:
            off = min(off, t.max_discount.minor_units)
    off = max(0, min(off, gross - 1))  # the buyer pays at least one minor unit
    if off == 0:
        raise CouponRefused(f"coupon {t.code} takes nothing off this order")
    return Money(off, currency)
