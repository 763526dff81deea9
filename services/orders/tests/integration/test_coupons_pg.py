"""Coupons on Postgres: buyers racing for a coupon's last uses through several committers (as several orders
processes would run) get exactly as many as its cap, the per-buyer cap holds too, an order that ends unpaid
gives its use back, and the `coupons` projection rebuilt from the store equals the live one (I6)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application import coupons, saga
from quanyi_orders.application import orders as app
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.bootstrap import NAME
from quanyi_orders.domain.coupon import CouponKind, CouponRefused, CouponTerms
from quanyi_orders.domain.errors import InvalidOrder
from quanyi_orders.domain.money import Money
from quanyi_platform.testing.replay import assert_replay_matches_live

PRICE = Money(1000, "CNY")


async def held_uses(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM coupon_uses WHERE NOT released")
        row: Any = await cur.fetchone()
    return int(row["n"])


async def test_buyers_racing_for_the_last_uses_get_exactly_the_cap(
    pool: AsyncConnectionPool, unit_of_work: Callable[[], PgOrdersUnitOfWork], database_url: str
) -> None:
    await coupons.create_coupon(unit_of_work(), CouponTerms(
        "LAST3", CouponKind.PERCENT, percent_off_bps=2500, total_cap=3, per_buyer_cap=1), "ops")
    # Two entries stand for two orders processes (their groups meet only in Postgres), and separate
    # unit-of-work calls race outside any group.
    entries = [OrdersEntry(unit_of_work, max_group=4, max_in_flight=2, pay_within=timedelta(minutes=15))
               for _ in range(2)]

    async def place(n: int) -> app.Placed | Exception:
        cmd = app.PlaceOrder(f"buyer-{n % 12}", "", "web", [("sku-a", 1, PRICE)], f"key-{n}",
                             coupon_code="last3" if n % 2 else "Last3")
        try:
            if n % 3 == 2:
                return await app.place_order(unit_of_work(), cmd, pay_within=timedelta(minutes=15))
            return await entries[n % 2].place(cmd)
        except CouponRefused as exc:
            return exc

    outcomes = await asyncio.gather(*(place(n) for n in range(24)))
    placed = [o for o in outcomes if isinstance(o, app.Placed)]
    refused = [o for o in outcomes if isinstance(o, CouponRefused)]
    assert len(placed) == 3 and len(refused) == 21
    assert len({o.order.buyer_id for o in placed}) == 3
    assert all(o.order.total == Money(750, "CNY") and o.order.discount == Money(250, "CNY") for o in placed)
    assert all("used up" in str(r) for r in refused)
    assert await held_uses(pool) == 3
    [(coupon, uses)], _ = await coupons.list_coupons(unit_of_work(), 10)
    assert coupon.terms.code == "LAST3" and uses == 3

    # The stored order is what the buyer pays: the lines less the discount.
    stored = await app.get_order(unit_of_work(), placed[0].order.order_id)
    assert stored.total == Money(750, "CNY") and stored.discount == Money(250, "CNY")

    # The orders expire unpaid: their uses come back, and a new buyer can take one.
    later = max(o.order.placed_at for o in placed) + timedelta(minutes=16)
    assert await saga.expire_orders(unit_of_work, [o.order.order_id for o in placed], later) == 3
    assert await held_uses(pool) == 0
    again = await app.place_order(unit_of_work(), app.PlaceOrder(
        "buyer-new", "", "web", [("sku-a", 1, PRICE)], "k-new", coupon_code="LAST3"))
    assert again.order.discount == Money(250, "CNY")

    # Disabled: refused, with the reason.
    disabled, uses = await coupons.disable_coupon(unit_of_work(), "last3", "ops")
    assert disabled.disabled and uses == 1
    try:
        await app.place_order(unit_of_work(), app.PlaceOrder(
            "buyer-x", "", "web", [("sku-a", 1, PRICE)], "k-x", coupon_code="LAST3"))
    except CouponRefused as exc:
        assert "disabled" in str(exc)
    else:
        raise AssertionError("a disabled coupon was applied")

    await assert_replay_matches_live(database_url, NAME)


async def test_paging_coupons_while_operators_create_more_lists_each_once_newest_first(
    unit_of_work: Callable[[], PgOrdersUnitOfWork],
) -> None:
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # Pairs created at the same instant: the code key breaks the tie, so no page boundary repeats one.
    for n in range(5):
        await coupons.create_coupon(
            unit_of_work(), CouponTerms(f"PAGE{n}", CouponKind.PERCENT, percent_off_bps=100), "ops",
            t0 + timedelta(minutes=n // 2),
        )
    seen: list[str] = []
    token = ""
    for made in range(10):
        page, token = await coupons.list_coupons(unit_of_work(), 2, token)
        seen += [c.terms.code for c, _ in page]
        if not token:
            break
        await coupons.create_coupon(  # newer than the position: on no later page
            unit_of_work(), CouponTerms(f"LATE{made}", CouponKind.PERCENT, percent_off_bps=100), "ops",
            t0 + timedelta(hours=1, minutes=made),
        )
    assert seen == ["PAGE4", "PAGE2", "PAGE3", "PAGE0", "PAGE1"]
    with pytest.raises(InvalidOrder):
        await coupons.list_coupons(unit_of_work(), 2, "WzEsMl0")
