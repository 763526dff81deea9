"""Expiry: an available key past its expires_at is never handed out, and the sweeper records it expired.

A sweep (aggregate ExpirySweep, one per sweep) records KeysExpired once, version 1, for the available keys
whose expires_at is at or before its `as_of`; a SKU that falls to its low-stock threshold by it is
reported low, as after a sale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from quanyi_inventory.domain.events import EXPIRY_SWEEP, ExpiredKey, KeysExpired, Recorded
from quanyi_inventory.domain.stock import SkuStock, evolve, report_if_low


def expire(
    sweep_id: str, as_of: datetime, keys: Sequence[ExpiredKey], stock: Mapping[str, SkuStock]
) -> tuple[list[Recorded], dict[str, SkuStock]]:
    """KeysExpired for `keys` (in key id order), then StockLow for each SKU it brings to its threshold
    for the first time in the episode; and the SKUs' stock after. Nothing when there are no keys."""
    if not keys:
        return [], dict(stock)
    event = KeysExpired(sweep_id, as_of, tuple(sorted(keys, key=lambda k: k.key_id)))
    recorded = [Recorded(EXPIRY_SWEEP, sweep_id, 1, event, cause=sweep_id)]
    after: dict[str, SkuStock] = {}
    for sku_id in sorted(stock):
        state = evolve(stock[sku_id], event)
        assert state is not None
        after[sku_id], low = report_if_low(state, cause=sweep_id)
        recorded.extend(low)
    return recorded, after
