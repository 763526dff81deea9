"""Event type names the projections handle."""

from __future__ import annotations

from quanyi.inventory.v1 import events_pb2 as pb

PRODUCT_CREATED = pb.ProductCreated.DESCRIPTOR.full_name
SKU_CREATED = pb.SkuCreated.DESCRIPTOR.full_name
POOL_CREATED = pb.PoolCreated.DESCRIPTOR.full_name
KEYS_IMPORTED = pb.KeysImported.DESCRIPTOR.full_name
KEY_RESERVED = pb.KeyReserved.DESCRIPTOR.full_name
STOCK_SHORT = pb.StockShort.DESCRIPTOR.full_name
STOCK_LOW = pb.StockLow.DESCRIPTOR.full_name
STOCK_LOW_CLEARED = pb.StockLowCleared.DESCRIPTOR.full_name
KEYS_REVEALED = pb.KeysRevealed.DESCRIPTOR.full_name
DATA_KEYS_REWRAPPED = pb.DataKeysRewrapped.DESCRIPTOR.full_name
POOL_PRIORITY_CHANGED = pb.PoolPriorityChanged.DESCRIPTOR.full_name
KEYS_EXPIRED = pb.KeysExpired.DESCRIPTOR.full_name
LOW_STOCK_THRESHOLD_SET = pb.LowStockThresholdSet.DESCRIPTOR.full_name


class ProjectionError(Exception):
    """The events contradict the projection's rows (a key reserved twice, ...): the store is inconsistent."""
