"""Telling the operator that a SKU runs low: each StockLow reaches every configured channel (e-mail, a
signed webhook) at least once; receivers tell repeats apart by the event id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StockAlert:
    """A StockLow as the operator hears of it: `event_id` is the event's, the same on every retry."""

    event_id: str
    sku_id: str
    available: int
    threshold: int
    occurred_at: datetime


class AlertFailed(Exception):
    """A channel did not take the alert (network, refusal); it is tried again later."""


class AlertChannel(Protocol):
    """One way of telling the operator (`quanyi_inventory.adapters.alerts`)."""

    async def send(self, alert: StockAlert) -> None:
        """Deliver `alert` or raise AlertFailed."""


async def tell_operator(channels: Sequence[AlertChannel], alerts: Sequence[StockAlert]) -> None:
    """Send every alert on every channel; AlertFailed when one failed (the caller retries them all: a
    receiver may see an alert again, with the same event id)."""
    for alert in alerts:
        for channel in channels:
            await channel.send(alert)
