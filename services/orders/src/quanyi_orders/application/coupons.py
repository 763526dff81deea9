"""Coupons: the operator defines, lists and disables them; a placement that names one takes a use of it.

A placement's coupon is decided inside the unit of work that appends the order (`screen`): the coupons
the group names are locked and their held uses counted, and each placement, in arrival order, is decided
against the uses the ones before it took (domain.coupon.discount). The order then records its coupon and
discount in its OrderPlaced, which is also the use (the `coupons` projection), so the cap holds under
any concurrency: the locks serialize the counts and the appends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from quanyi_platform import paging
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_orders.adapters.coupon_mapping import coupon_new_events
from quanyi_orders.application.pages import page_position
from quanyi_orders.application.ports import OrdersUnitOfWork
from quanyi_orders.domain import coupon as domain
from quanyi_orders.domain.coupon import (
    Coupon,
    CouponExists,
    CouponNotFound,
    CouponRefused,
    CouponTerms,
    CreateCoupon,
    DisableCoupon,
    code_key,
)
from quanyi_orders.domain.order import execute

if TYPE_CHECKING:
    from quanyi_orders.application.orders import Placement  # orders imports this module

MAX_LIST_LIMIT = 200
DEFAULT_LIST_LIMIT = 50


async def create_coupon(uow: OrdersUnitOfWork, terms: CouponTerms, actor: str,
                        now: datetime | None = None) -> Coupon:
    """Define a coupon; raises InvalidOrder for terms it refuses and CouponExists for a taken code."""
    key = code_key(terms.code)
    async with uow:
        existing = await uow.coupons.get(key)
        events = domain.decide(existing, CreateCoupon(terms, actor, now or datetime.now(UTC)))
        try:
            await uow.events.append(coupon_new_events(terms.code, 0, events))
            await uow.commit()
        except ConcurrencyConflict:
            raise CouponExists(f"a coupon {terms.code.strip()!r} exists already") from None
    coupon = domain.fold(events)
    assert coupon is not None
    return coupon


async def disable_coupon(uow: OrdersUnitOfWork, code: str, actor: str) -> tuple[Coupon, int]:
    """Disable a coupon (again: nothing more is recorded); raises CouponNotFound. Returns it and its uses."""
    key = code_key(code)
    for _ in range(5):
        try:
            async with uow:
                found = await uow.coupons.lock_and_count([key], [])
                coupon, usage = found.get(key, (None, domain.Usage()))
                events = domain.decide(coupon, DisableCoupon(actor))
                assert coupon is not None
                if events:
                    await uow.events.append(coupon_new_events(coupon.terms.code, coupon.version, events))
                    await uow.commit()
            after = domain.fold(events, coupon)
            assert after is not None
            return after, usage.total
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict("disabling the coupon did not settle")


async def list_coupons(
    uow: OrdersUnitOfWork, limit: int, page_token: str = ""
) -> tuple[list[tuple[Coupon, int]], str]:
    """A page of coupons, newest first, with their held uses, and the next page's token ("" on the last); a
    limit of 0 means the default, never above the maximum. A token that is not one raises InvalidOrder."""
    limit = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    after = page_position(page_token)
    async with uow:
        found = await uow.coupons.list(limit + 1, after)
    return paging.page(found, limit, lambda cu: (cu[0].created_at, cu[0].key))


async def screen(
    uow: OrdersUnitOfWork, placements: Sequence[Placement]
) -> tuple[list[Placement], dict[str, Exception]]:
    """Decide the coupons of `placements` in the order given (call inside the unit of work that appends
    them): each placement as it will be appended (with its discount), and the refusals by order id."""
    keys = sorted({code_key(p.coupon_code) for p in placements if p.coupon_code})
    if not keys:
        return list(placements), {}
    found = await uow.coupons.lock_and_count(keys, sorted({p.order.buyer_id for p in placements}))
    out: list[Placement] = []
    refused: dict[str, Exception] = {}
    for p in placements:
        if not p.coupon_code:
            out.append(p)
            continue
        key = code_key(p.coupon_code)
        coupon, usage = found.get(key, (None, domain.Usage()))
        try:
            off = domain.discount(coupon, usage, p.order.buyer_id, p.order.lines, p.order.placed_at)
            assert coupon is not None and p.command is not None
            order, events = execute(None, replace(p.command, coupon_code=coupon.terms.code, discount=off))
        except CouponRefused as exc:
            refused[p.order.order_id] = exc
            continue
        assert order is not None
        usage.take(p.order.buyer_id)
        out.append(replace(p, order=order, events=events))
    return out, refused


__all__ = [
    "CouponExists", "CouponNotFound", "CouponRefused", "create_coupon", "disable_coupon", "list_coupons",
    "screen",
]
