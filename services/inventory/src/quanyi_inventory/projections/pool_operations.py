"""`pool_operations`: the operation log of the card-key pools — one row per event that acts on them
(pools created, keys imported, batches voided and restored, exports with codes, re-wraps of data keys,
priorities changed, keys expired), keyed by the event's id, at the event's time. One INSERT per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import (
    DATA_KEYS_REWRAPPED,
    KEYS_EXPIRED,
    KEYS_IMPORTED,
    POOL_CREATED,
)
from quanyi_inventory.projections.batch_keys import BATCH_RESTORED, BATCH_VOIDED, KEYS_EXPORTED, KEYS_MOVED

POOL_PRIORITY_CHANGED = pb.PoolPriorityChanged.DESCRIPTOR.full_name

# (action, actor, pool, sku, batch, keys, detail); never a key.
Row = tuple[str, str, str, str, str, int, str]


def _row(p: Any) -> Row | None:
    if isinstance(p, pb.PoolCreated):
        return ("pool_created", "", p.pool_id, p.sku_id, "", 0, f"name={p.name} priority={p.priority}")
    if isinstance(p, pb.KeysImported):
        detail = f"duplicates={p.duplicates} rejected={p.rejected}"
        if p.HasField("source"):
            detail += f" file={p.source.file_name} sha256={p.source.file_sha256} mode={p.source.mode}"
        return ("keys_imported", p.actor, p.pool_id, p.sku_id, p.batch_id, int(p.imported), detail)
    if isinstance(p, pb.BatchVoided):
        return ("batch_voided", p.actor, p.pool_id, p.sku_id, p.batch_id, int(p.keys), p.reason)
    if isinstance(p, pb.BatchRestored):
        return ("batch_restored", p.actor, p.pool_id, p.sku_id, p.batch_id, int(p.keys), "")
    if isinstance(p, pb.KeysMoved):
        detail = f"to pool={p.to_pool_id} sku={p.to_sku_id}"
        return ("keys_moved", p.actor, p.from_pool_id, p.from_sku_id, p.batch_id, int(p.keys), detail)
    if isinstance(p, pb.KeysExported):
        detail = f"with codes; state={p.state or 'any'}"
        return ("keys_exported", p.actor, p.pool_id, "", p.batch_id, int(p.keys), detail)
    if isinstance(p, pb.DataKeysRewrapped):
        return ("data_keys_rewrapped", p.actor, "", "", "", len(p.batches), f"master_key={p.master_key_id}")
    if isinstance(p, pb.PoolPriorityChanged):
        return ("pool_priority_changed", "", p.pool_id, p.sku_id, "", 0, f"priority={p.priority}")
    if isinstance(p, pb.KeysExpired):
        pools = sorted({k.pool_id for k in p.keys})
        pool = pools[0] if len(pools) == 1 else ""
        return ("keys_expired", "expiry-sweeper", pool, "", "", len(p.keys), f"pools={len(pools)}")
    return None


class PoolOperationsProjection(Projection):
    name = "pool_operations"
    tables = ("pool_operations",)
    handles = frozenset({
        POOL_CREATED, KEYS_IMPORTED, BATCH_VOIDED, BATCH_RESTORED, KEYS_EXPORTED, DATA_KEYS_REWRAPPED,
        POOL_PRIORITY_CHANGED, KEYS_EXPIRED, KEYS_MOVED,
    })

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [(e, r) for e in events if (r := _row(e.payload)) is not None]
        if not rows:
            return
        await conn.execute(
            "INSERT INTO pool_operations (operation_id, at, action, actor, pool_id, sku_id, batch_id, keys,"
            " detail) SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::text[], %s::text[], %s::text[],"
            " %s::text[], %s::text[], %s::bigint[], %s::text[]) ON CONFLICT DO NOTHING",
            (
                [e.event_id for e, _ in rows],
                [e.occurred_at for e, _ in rows],
                *([r[i] for _, r in rows] for i in range(7)),
            ),
        )
