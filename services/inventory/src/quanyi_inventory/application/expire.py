"""The expiry sweeper: available keys past their expires_at become expired, by event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.allocate import utc_now
from quanyi_inventory.application.ports import Context, InventoryUnitOfWork
from quanyi_inventory.domain.expiry import expire

log = logging.getLogger(__name__)


async def sweep_expired(
    uow: InventoryUnitOfWork, *, limit: int = 5_000, clock: Callable[[], datetime] = utc_now
) -> int:
    """Record KeysExpired for up to `limit` available keys whose expires_at has passed (and StockLow for
    SKUs that fall to their threshold by it), in one unit of work; returns how many. Allocation never
    hands such a key out even before a sweep (it checks the validity window itself); the sweep makes
    the stock counts and the keys' states say so."""
    as_of = clock()
    async with uow:
        keys, stock = await uow.expiry.lock_due(as_of, limit)
        if not keys:
            return 0
        sweep_id = new_event_id()
        recorded, _ = expire(sweep_id, as_of, keys, stock)
        await uow.record(recorded, Context(correlation_id=sweep_id))
        await uow.commit()
    log.info("keys expired", extra={"keys": len(keys), "skus": len(stock), "sweep_id": sweep_id})
    return len(keys)


async def sweep_all_expired(
    uow: Callable[[], InventoryUnitOfWork], *, limit: int = 5_000, clock: Callable[[], datetime] = utc_now
) -> int:
    """`sweep_expired` until nothing is due; returns how many keys expired in all."""
    total = 0
    while (n := await sweep_expired(uow(), limit=limit, clock=clock)) > 0:
        total += n
    return total


async def run_sweeper(
    uow: Callable[[], InventoryUnitOfWork], *, every_s: float, limit: int = 5_000
) -> None:
    """Sweep every `every_s` seconds, for ever; a failed sweep is logged and tried again next time."""
    while True:
        try:
            await sweep_all_expired(uow, limit=limit)
        except Exception:  # the next sweep retries; a sweep changes nothing unless it commits
            log.exception("expiry sweep failed")
        await asyncio.sleep(every_s)
