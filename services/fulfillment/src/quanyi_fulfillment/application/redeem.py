"""Recording redemptions reported by partners."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.application.ports import UnitOfWorkFactory
from quanyi_fulfillment.domain.aggregate import (
    DeliveredKey,
    Delivery,
    alert_undelivered_redemption,
    evolve_all,
    redeem,
)
from quanyi_fulfillment.domain.errors import DeliveryNotFound
from quanyi_fulfillment.domain.redemption import RedemptionReport

log = logging.getLogger(__name__)

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
    this id, after raising the alert (UndeliveredKeyRedeemed, once per key, and an error log line): a key
    the partner saw used that we never delivered was leaked or stolen, or the partner mixed keys up.
    """
    for attempt in range(ATTEMPTS):
        try:
            async with uow() as work:
                state = await work.deliveries.by_key(report.key_id)
                if state is not None:
                    records = redeem(state, report.key_id, report.partner, report.redeemed_at, now)
                    await work.record(records)
                    await work.commit()
            if state is None:
                await _alert(uow, report, now)
                raise DeliveryNotFound(f"no delivered key {report.key_id}")
        except ConcurrencyConflict:
            if attempt == ATTEMPTS - 1:
                raise
            continue
        after = evolve_all(state, records)
        assert after is not None
        key = after.key(report.key_id)
        assert key is not None
        return RedemptionResult(after, key, duplicate=not records)
    raise AssertionError("unreachable")


async def _alert(uow: UnitOfWorkFactory, report: RedemptionReport, now: datetime) -> None:
    """Record the alert for a report of an undelivered key (once per key) and log it for the operators."""
    first = True
    try:
        async with uow() as work:
            alert = alert_undelivered_redemption(report.key_id, report.partner, report.redeemed_at, now)
            await work.record(alert)
            await work.commit()
    except ConcurrencyConflict:
        first = False  # alerted before
    log.error(
        "ALERT: a partner reported redeemed a key that was never delivered",
        extra={"alert": "undelivered_key_redeemed", "key_id": report.key_id, "partner": report.partner,
               "first_report": first},
    )
