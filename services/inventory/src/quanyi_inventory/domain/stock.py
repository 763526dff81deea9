"""A SKU's stock (aggregate SkuStock): how many of its keys are available and reserved, and whether its
current low-stock episode has been reported. Its own events are StockLow and StockLowCleared (they carry
its versions); imports and reservations change its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from quanyi_inventory.domain.events import (
    KEY_BATCH,
    SKU_STOCK,
    Event,
    KeyReserved,
    KeysDelivered,
    KeysExpired,
    KeysImported,
    LowStockThresholdSet,
    Recorded,
    RefundKeysSettled,
    SkuCreated,
    StockLow,
    StockLowCleared,
)
from quanyi_inventory.domain.money import Money


@dataclass(frozen=True)
class SkuStock:
    """The current state of one SKU's stock. `version` counts its StockLow and StockLowCleared events."""

    sku_id: str
    low_stock_threshold: int = 0
    available: int = 0
    reserved: int = 0
    low_stock_alerted: bool = False
    version: int = 0


@dataclass(frozen=True)
class StockMoves:
    """What moved a SKU's available keys in one UTC day: keys imported, reserved for orders, released
    back by refunds, expired, voided (less restored) and moved in (less moved out)."""

    imported: int = 0
    reserved: int = 0
    released: int = 0
    expired: int = 0
    voided: int = 0
    moved: int = 0

    @property
    def change(self) -> int:
        """The day's change of the available keys."""
        return self.imported - self.reserved + self.released - self.expired - self.voided + self.moved


def stock_is_low(available: int, threshold: int) -> bool:
    """A SKU with a threshold is low once its available keys have fallen to it; 0 means no alert."""
    return threshold > 0 and available <= threshold


def evolve(state: SkuStock | None, event: Event) -> SkuStock | None:
    """The stock after `event` (None until the SKU is created). Events of other SKUs change nothing."""
    if isinstance(event, SkuCreated):
        return SkuStock(event.sku_id, event.low_stock_threshold) if state is None else state
    if state is None:
        return None
    if isinstance(event, KeysImported) and event.sku_id == state.sku_id:
        return replace(state, available=state.available + event.imported)
    if isinstance(event, KeyReserved):
        n = sum(1 for k in event.keys if k.sku_id == state.sku_id)
        return replace(state, available=state.available - n, reserved=state.reserved + n) if n else state
    if isinstance(event, KeysDelivered):
        n = sum(1 for k in event.keys if k.sku_id == state.sku_id)
        return replace(state, reserved=state.reserved - n) if n else state
    if isinstance(event, RefundKeysSettled):
        # Released keys are available again; revealed ones leave `reserved` for good (recycled).
        back = sum(1 for k in event.released if k.sku_id == state.sku_id)
        gone = back + sum(1 for k in event.voided_undelivered if k.sku_id == state.sku_id)
        return replace(state, available=state.available + back, reserved=state.reserved - gone)
    if isinstance(event, KeysExpired):
        n = sum(1 for k in event.keys if k.sku_id == state.sku_id)
        return replace(state, available=state.available - n) if n else state
    if isinstance(event, LowStockThresholdSet) and event.sku_id == state.sku_id:
        return replace(state, low_stock_threshold=event.low_stock_threshold)
    if isinstance(event, StockLow) and event.sku_id == state.sku_id:
        return replace(state, low_stock_alerted=True, version=state.version + 1)
    if isinstance(event, StockLowCleared) and event.sku_id == state.sku_id:
        return replace(state, low_stock_alerted=False, version=state.version + 1)
    return state


def fold(events: list[Event], sku_id: str) -> SkuStock | None:
    """The stock of `sku_id` after `events`, from nothing."""
    state: SkuStock | None = None
    for event in events:
        if state is None and not (isinstance(event, SkuCreated) and event.sku_id == sku_id):
            continue
        state = evolve(state, event)
    return state


def keys_imported(
    sku_id: str,
    *,
    batch_id: str,
    pool_id: str,
    imported: int,
    duplicates: int,
    rejected: int,
    unit_cost: Money,
    actor: str,
    master_key_id: str,
    channel: str = "",
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
) -> Recorded:
    """KeysImported for a stored batch: `imported` new keys of `sku_id`, universal (`channel` "") or for
    one channel, valid from `valid_from` until `expires_at` unless a key's own row says otherwise."""
    event = KeysImported(
        batch_id, pool_id, sku_id, imported, duplicates, rejected, unit_cost, actor, master_key_id,
        channel.strip(), valid_from, expires_at,
    )
    return Recorded(KEY_BATCH, batch_id, 1, event)


def clear_if_restocked(stock: SkuStock) -> tuple[SkuStock, list[Recorded]]:
    """After an import: StockLowCleared when `stock` was reported low and is above its threshold again."""
    if not stock.low_stock_alerted or stock_is_low(stock.available, stock.low_stock_threshold):
        return stock, []
    cleared = StockLowCleared(stock.sku_id, stock.available, stock.low_stock_threshold)
    after = evolve(stock, cleared)
    assert after is not None
    return after, [Recorded(SKU_STOCK, stock.sku_id, stock.version + 1, cleared)]


def report_if_low(stock: SkuStock, cause: str = "") -> tuple[SkuStock, list[Recorded]]:
    """StockLow when `stock` is at or below its threshold and this episode was not reported yet."""
    if stock.low_stock_alerted or not stock_is_low(stock.available, stock.low_stock_threshold):
        return stock, []
    low = StockLow(stock.sku_id, stock.available, stock.low_stock_threshold)
    after = evolve(stock, low)
    assert after is not None
    return after, [Recorded(SKU_STOCK, stock.sku_id, stock.version + 1, low, cause)]
