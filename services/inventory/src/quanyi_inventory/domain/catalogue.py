"""Catalogue rules: what a valid product, SKU, pool and amount of money look like."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.events import (
    BUNDLE,
    FIFO,
    MEMBERSHIP,
    POINTS,
    POOL,
    PRODUCT,
    SKU,
    STRATEGIES,
    BundleComponent,
    BundleDefined,
    Entitlement,
    LowStockThresholdSet,
    PoolCreated,
    PoolPriorityChanged,
    ProductCreated,
    Recorded,
    SkuCreated,
)
from quanyi_inventory.domain.money import Money as Money

MAX_NAME_LENGTH = 200
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE_TOKEN_LENGTH = 64
DEFAULT_KIND = "card_key"
DEFAULT_POOL_NAME = "default"
MAX_POOL_PRIORITY = 1_000_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def money(minor_units: int, currency: str, what: str) -> Money:
    """A validated, non-negative amount; `what` names it in the error ("price", "unit cost")."""
    code = currency.strip().upper()
    if not _CURRENCY.match(code):
        raise InvalidInput(f"{what} needs a three-letter currency code")
    if minor_units < 0:
        raise InvalidInput(f"{what} must not be negative")
    return Money(minor_units, code)


def name(value: str, what: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"{what} must not be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{what} must be at most {MAX_NAME_LENGTH} characters")
    return cleaned


def product_kind(value: str) -> str:
    return name(value, "kind") if value.strip() else DEFAULT_KIND


def pool_name(value: str) -> str:
    return name(value, "pool name") if value.strip() else DEFAULT_POOL_NAME


def low_stock_threshold(value: int) -> int:
    if value < 0:
        raise InvalidInput("low stock threshold must not be negative")
    return value


MAX_HISTORY_DAYS = 366


def history_range(first: str, last: str) -> tuple[date, date]:
    """A range of UTC days, YYYY-MM-DD each, `first` not after `last`, at most MAX_HISTORY_DAYS long."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise InvalidInput("days are YYYY-MM-DD") from None
    if start > end or (end - start).days >= MAX_HISTORY_DAYS:
        raise InvalidInput(f"a stock history covers 1 to {MAX_HISTORY_DAYS} days")
    return start, end


def page_size(value: int) -> int:
    """How many items a page holds: 0 asks for the default; more than MAX_PAGE_SIZE is refused."""
    if value == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE_SIZE}")
    return value


def page_token(value: str) -> str:
    """A page token is the last id of the previous page, as handed out; anything else is refused."""
    if len(value) > MAX_PAGE_TOKEN_LENGTH or not value.isprintable():
        raise InvalidInput("the page token is not one this service handed out")
    return value


def create_product(product_id: str, name_: str, kind: str) -> Recorded:
    """ProductCreated for a valid name (the kind defaults to card keys)."""
    return Recorded(PRODUCT, product_id, 1, ProductCreated(product_id, name(name_, "product name"),
                                                           product_kind(kind)))


def allocation_strategy(value: str) -> str:
    """FIFO (the default) or FEFO."""
    cleaned = value.strip().lower() or FIFO
    if cleaned not in STRATEGIES:
        raise InvalidInput("allocation strategy must be fifo or fefo")
    return cleaned


def pool_priority(value: int) -> int:
    if not 0 <= value <= MAX_POOL_PRIORITY:
        raise InvalidInput(f"pool priority must be between 0 and {MAX_POOL_PRIORITY}")
    return value


def create_sku(
    sku_id: str, product_id: str, name_: str, price: Money, threshold: int, strategy: str = FIFO
) -> Recorded:
    """SkuCreated for a SKU of an existing product, with a valid name, price, threshold and strategy."""
    event = SkuCreated(
        sku_id,
        product_id,
        name(name_, "SKU name"),
        money(price.minor_units, price.currency, "price"),
        low_stock_threshold(threshold),
        allocation_strategy(strategy),
    )
    return Recorded(SKU, sku_id, 1, event)


def change_pool_priority(pool_id: str, sku_id: str, version: int, priority: int) -> Recorded:
    """PoolPriorityChanged: version `version` + 1 of the pool (its current version is `version`)."""
    return Recorded(POOL, pool_id, version + 1, PoolPriorityChanged(pool_id, sku_id, pool_priority(priority)))


def set_low_stock_threshold(sku_id: str, version: int, threshold: int) -> Recorded:
    """LowStockThresholdSet: version `version` + 1 of the SKU (its current version is `version`), for a
    threshold of 0 or more."""
    return Recorded(SKU, sku_id, version + 1, LowStockThresholdSet(sku_id, low_stock_threshold(threshold)))


def create_pool(pool_id: str, sku_id: str, name_: str, priority: int = 0) -> Recorded:
    """PoolCreated for a pool of an existing SKU (the name defaults to "default"; the SKU draws from its
    pools in ascending priority)."""
    return Recorded(POOL, pool_id, 1, PoolCreated(pool_id, sku_id, pool_name(name_), pool_priority(priority)))


MAX_BUNDLE_COMPONENTS = 20
MAX_COMPONENT_QUANTITY = 100


# The availability of a bundle of points and memberships only (they are unlimited): int32's largest.
UNLIMITED = 2**31 - 1
MAX_POINTS = 10**9
MAX_MEMBERSHIP_DAYS = 3660
MAX_VALUE_MINOR = 10**12


def check_entitlement(e: Entitlement) -> None:
    """Raise InvalidInput unless `e` is 1..MAX_POINTS points or a named plan of 1..MAX_MEMBERSHIP_DAYS
    days, with a value (or cost) of 0..MAX_VALUE_MINOR minor units in a three-letter currency (any, at 0)."""
    if e.kind == POINTS:
        if not 1 <= e.points <= MAX_POINTS:
            raise InvalidInput(f"a points component gives 1 to {MAX_POINTS} points per unit")
    elif e.kind == MEMBERSHIP:
        if not e.plan.strip() or len(e.plan) > 64:
            raise InvalidInput("a membership component names its plan (at most 64 characters)")
        if not 1 <= e.days <= MAX_MEMBERSHIP_DAYS:
            raise InvalidInput(f"a membership component gives 1 to {MAX_MEMBERSHIP_DAYS} days per unit")
    else:
        raise InvalidInput("a bundle component is keys of a SKU, points or a membership")
    if not 0 <= e.value_minor <= MAX_VALUE_MINOR:
        raise InvalidInput(f"a component's value is 0 to {MAX_VALUE_MINOR} minor units")
    if e.value_minor and not (len(e.currency) == 3 and e.currency.isalpha() and e.currency.isupper()):
        raise InvalidInput("a component's value needs a currency (ISO 4217, e.g. CNY)")


def define_bundle(
    sku_id: str, components: Sequence[BundleComponent], entitlements: Sequence[Entitlement] = ()
) -> Recorded:
    """BundleDefined for a SKU made of other SKUs' keys and of points and memberships: at least one
    component, each SKU once, not the bundle itself, 1 to MAX_COMPONENT_QUANTITY keys of each per unit;
    each plan once (see `check_entitlement` for points and memberships)."""
    if not 1 <= len(components) + len(entitlements) <= MAX_BUNDLE_COMPONENTS:
        raise InvalidInput(f"a bundle has 1 to {MAX_BUNDLE_COMPONENTS} components")
    for e in entitlements:
        check_entitlement(e)
    plans = [e.plan for e in entitlements if e.kind == MEMBERSHIP]
    if len(set(plans)) != len(plans):
        raise InvalidInput("a bundle names each membership plan once")
    ids = [c.sku_id for c in components]
    if len(set(ids)) != len(ids) or sku_id in ids:
        raise InvalidInput("a bundle names each component SKU once, and not itself")
    if any(not 1 <= c.quantity <= MAX_COMPONENT_QUANTITY for c in components):
        raise InvalidInput(f"a bundle takes 1 to {MAX_COMPONENT_QUANTITY} keys of each component")
    return Recorded(BUNDLE, sku_id, 1, BundleDefined(sku_id, tuple(components), tuple(entitlements)))
