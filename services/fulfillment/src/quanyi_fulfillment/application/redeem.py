"""Recording redemptions reported by partners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.application.ports import UnitOfWorkFactory
from quanyi_fulfillment.domain.aggregate import DeliveredKey, Delivery, evolve_all, redeem
from quanyi_fulfillment.domain.redemption import RedemptionReport

ATTEMPTS = 3


@dataclass(frozen=True)
class RedemptionResult:
    delivery: Delivery
    key: DeliveredKey
    duplicate: bool


async def record_redemption(
    uow: UnitOfWorkFactory, report: RedemptionReport, now: datetime
) -> RedemptionResult:
    """Mark a delivered key redeemed and record Redeemed, once; a repeat changes nothing and says so.

    Two concurrent reports of one key: both try version 1 of the key's Redemption stream, one conflicts,
    is retried, and finds the key redeemed (a duplicate). Raises DeliveryNotFound when no delivered key has
    this id.
    """
    for attempt in range(ATTEMPTS):
        try:
            async with uow() as work:
                state = await work.deliveries.by_key(report.key_id)
                records = redeem(state, report.key_id, report.partner, report.redeemed_at, now)
                await work.record(records)
                await work.commit()
        except ConcurrencyConflict:
            if attempt == ATTEMPTS - 1:
                raise
            continue
        after = evolve_all(state, records)
        assert after is not None  # redeem raised DeliveryNotFound otherwise
        key = after.key(report.key_id)
        assert key is not None
        return RedemptionResult(after, key, duplicate=not records)
    raise AssertionError("unreachable")
