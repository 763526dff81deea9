"""Allocating card keys to a batch of paid orders, in one unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork
from quanyi_inventory.domain.allocation import (
    Allocation,
    PaidOrder,
    Reserved,
    allocate,
    claims_needed,
)


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
    never handed out twice: the batch's SKUs are locked, and each claimed key is taken by one unit only;
    nor outside its channel or validity window at the time of the decision (`clock`).
    Returns the outcome of every order of the batch.
    """
    commands = [order for order, _ in orders]
    contexts = {order.order_id: context for order, context in orders}
    async with uow:
        now = clock()
        state = await uow.allocations.load(list(contexts), claims_needed(commands), now)
        decision = allocate(commands, state.decided, state.stock, state.available, now, state.bundles)
        await uow.record(decision.recorded, by_cause=contexts)
        await uow.commit()
    new = [r.aggregate_id for r in decision.recorded if r.aggregate_id in contexts]
    if new:
        reserved = sum(isinstance(decision.outcomes[o], Reserved) for o in new)
        log.info(
            "orders allocated", extra={"orders": len(new), "reserved": reserved, "short": len(new) - reserved}
        )
    return decision.outcomes
