"""Allocating card keys to a batch of paid orders, in one unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork
from quanyi_inventory.domain.allocation import (
    Allocation,
    PaidOrder,
    Reserved,
    allocate,
    claims_needed,
)
from quanyi_inventory.domain.events import KeyReserved, Recorded
from quanyi_inventory.domain.stock import SkuStock, report_if_low


def utc_now() -> datetime:
    return datetime.now(UTC)

log = logging.getLogger(__name__)


async def allocate_paid_orders(
    uow: InventoryUnitOfWork,
    orders: Sequence[tuple[PaidOrder, Context]],
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Allocation]:
    """Give each paid order one key per unit of every line, all or nothing, deciding the whole batch at
    once: one read of everything it touches, decisions in memory, one append of all new events.

    Records KeyReserved or StockShort as version 1 of each new order's Allocation (with its command's
    correlation and causation ids), and StockLow for SKUs that fell to their threshold. An order decided
    before (a redelivered or repeated OrderPaid) gets its first outcome back and records nothing. A key is
    never handed out twice: each claimed key is locked by this unit of work and taken by one unit only;
    nor outside its channel or validity window at the time of the decision (`clock`).
    Allocations of one SKU run side by side: the SKU's stock is locked only after the append (its
    projection holds the row from there), and only for SKUs with a low-stock threshold, so StockLow is
    decided on exact counts and recorded once per crossing.
    Returns the outcome of every order of the batch.
    """
    commands = [order for order, _ in orders]
    contexts = {order.order_id: context for order, context in orders}
    async with uow:
        now = clock()
        state = await uow.allocations.load(list(contexts), claims_needed(commands), now)
        # No stock given: the counts read are not locked, so StockLow waits for the locked row below.
        decision = allocate(
            commands, state.decided, {}, state.available, now, state.bundles, state.entitlements
        )
        await uow.record(decision.recorded, by_cause=contexts)
        await uow.record(await _low_stock(uow, decision.recorded, state.stock), by_cause=contexts)
        await uow.commit()
    new = [r.aggregate_id for r in decision.recorded if r.aggregate_id in contexts]
    if new:
        reserved = sum(isinstance(decision.outcomes[o], Reserved) for o in new)
        log.info(
            "orders allocated", extra={"orders": len(new), "reserved": reserved, "short": len(new) - reserved}
        )
    return decision.outcomes


async def _low_stock(
    uow: InventoryUnitOfWork, recorded: list[Recorded], read: Mapping[str, SkuStock]
) -> list[Recorded]:
    """StockLow for the SKUs with a threshold that this batch's reservations brought to it, decided on
    their stock locked after the append: every concurrent allocation's reservations have been counted
    before it (their projections hold the row until they commit), so each crossing is seen exactly once."""
    last_reserver: dict[str, str] = {}
    for r in recorded:
        if isinstance(r.event, KeyReserved):
            for key in r.event.keys:
                last_reserver[key.sku_id] = r.aggregate_id
    watched = [s for s in sorted(last_reserver) if s in read and read[s].low_stock_threshold > 0]
    if not watched:
        return []
    locked = await uow.stock.lock(watched)
    low: list[Recorded] = []
    for sku_id in watched:
        if sku_id in locked:
            low.extend(report_if_low(locked[sku_id], cause=last_reserver[sku_id])[1])
    return low
