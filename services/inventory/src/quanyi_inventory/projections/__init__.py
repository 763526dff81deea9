"""Inventory's read models, each a projection of its events.

`PROJECTIONS` is what `EventStore(..., projections=PROJECTIONS)` runs inline on every append and what
`quanyi replay inventory` rebuilds; nothing else writes these tables. Each writes set-wise, a statement or
two per batch whatever its size, and its rows depend only on the events (times are the events' times).
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

from quanyi_inventory.projections.allocations import AllocationsProjection
from quanyi_inventory.projections.bundles import BundlesProjection
from quanyi_inventory.projections.catalogue import CatalogueProjection
from quanyi_inventory.projections.key_batches import KeyBatchesProjection
from quanyi_inventory.projections.key_file_imports import KeyFileImportsProjection
from quanyi_inventory.projections.key_life import RefundedKeysProjection, RefundSettlementsProjection
from quanyi_inventory.projections.key_reveals import KeyRevealsProjection
from quanyi_inventory.projections.keys import KeysProjection
from quanyi_inventory.projections.pool_operations import PoolOperationsProjection
from quanyi_inventory.projections.stock import StockProjection

# `stock` comes last: its UPDATE locks the SKUs' rows, and an append holds them from there to its commit
# (an import's keys are written before it, not while the SKU waits).
PROJECTIONS: tuple[Projection, ...] = (
    CatalogueProjection(),
    BundlesProjection(),
    KeyBatchesProjection(),
    KeysProjection(),
    AllocationsProjection(),
    KeyRevealsProjection(),
    PoolOperationsProjection(),
    RefundSettlementsProjection(),
    RefundedKeysProjection(),
    KeyFileImportsProjection(),
    StockProjection(),
)

__all__ = [
    "PROJECTIONS",
    "AllocationsProjection",
    "BundlesProjection",
    "CatalogueProjection",
    "KeyBatchesProjection",
    "KeyFileImportsProjection",
    "KeyRevealsProjection",
    "KeysProjection",
    "PoolOperationsProjection",
    "RefundSettlementsProjection",
    "RefundedKeysProjection",
    "StockProjection",
]
