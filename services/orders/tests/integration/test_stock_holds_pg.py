"""Stock holds on Postgres: concurrent placements by several committers (as several orders processes would
run) never hold more than is available, the caps hold across them, the holds are released as the orders
end, and the `stock_holds` projection rebuilt from the store equals the live one (I6)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork
from quanyi_orders.application import orders as app
from quanyi_orders.application import saga
from quanyi_orders.application.entry import OrdersEntry
from quanyi_orders.application.holds import HoldPolicy
from quanyi_orders.application.ports import StockLevels
from quanyi_orders.application.reactions import OrderFact, apply_order_facts
from quanyi_orders.bootstrap import NAME
from quanyi_orders.domain.holds import HoldCaps, HoldRefused
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import RecordRiskDecision, RiskDecision
from quanyi_platform.testing.replay import assert_replay_matches_live

PRICE = Money(500, "CNY")


class FixedStock(StockLevels):
    def __init__(self, levels: dict[str, int]) -> None:
        self.levels = levels

    async def available(self, sku_ids: Sequence[str]) -> dict[str, int]:
        return {s: self.levels[s] for s in sku_ids if s in self.levels}


async def held(pool: AsyncConnectionPool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT sku_id, sum(quantity)::int AS n FROM stock_holds GROUP BY sku_id")
        rows: list[Any] = await cur.fetchall()
    return {r["sku_id"]: r["n"] for r in rows}


async def test_concurrent_placements_across_committers_never_hold_more_than_is_available(
    pool: AsyncConnectionPool, unit_of_work: Callable[[], PgOrdersUnitOfWork], database_url: str
) -> None:
    holds = HoldPolicy(HoldCaps(per_buyer=2, per_client=0), FixedStock({"sku-a": 12, "sku-b": 1000}), b"k")
    # Two entries stand for two orders processes: their groups meet only in Postgres.
    entries = [OrdersEntry(unit_of_work, max_group=8, max_in_flight=2, pay_within=timedelta(minutes=15),
                           holds=holds) for _ in range(2)]

    async def place(n: int) -> app.Placed | Exception:
        cmd = app.PlaceOrder(f"buyer-{n % 20}", "", "web", [("sku-a", 1 + n % 2, PRICE), ("sku-b", 1, PRICE)],
                             f"key-{n}")
        try:
            return await entries[n % 2].place(cmd)
        except HoldRefused as exc:
            return exc

    outcomes = await asyncio.gather(*(place(n) for n in range(60)))
    placed = [o for o in outcomes if isinstance(o, app.Placed)]
    refused = [o for o in outcomes if isinstance(o, HoldRefused)]
    assert len(placed) + len(refused) == 60
    levels = await held(pool)
    assert levels["sku-a"] == sum(o.order.lines[0].quantity for o in placed) <= 12
    assert levels["sku-a"] >= 11  # refused only when the next one would not fit
    assert levels["sku-b"] == len(placed)
    per_buyer: dict[str, int] = {}
    for o in placed:
        per_buyer[o.order.buyer_id] = per_buyer.get(o.order.buyer_id, 0) + 1
    assert max(per_buyer.values()) <= 2

    # Paid, rejected by risk, expired: every hold is released, and the units can be held again.
    first, second, *rest = [o.order for o in placed]
    await app.capture_notified_payment(unit_of_work(), app.PaymentNotice(
        "psp", "n-1", "x", first.order_id, "t-1", first.total))
    await apply_order_facts(unit_of_work(), [
        OrderFact(first.order_id, RecordRiskDecision(RiskDecision.APPROVE), "e-1"),
        OrderFact(second.order_id, RecordRiskDecision(RiskDecision.REJECT), "e-2"),
    ])
    later = max(o.placed_at for o in rest) + timedelta(minutes=16)
    assert await saga.expire_orders(unit_of_work, [o.order_id for o in rest], later) == len(rest)
    assert await held(pool) == {}
    again = await entries[0].place(app.PlaceOrder("buyer-new", "", "web", [("sku-a", 12, PRICE)], "k-new"))
    assert not again.replayed
    assert await held(pool) == {"sku-a": 12}

    await assert_replay_matches_live(database_url, NAME)
