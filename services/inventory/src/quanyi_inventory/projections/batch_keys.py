"""The `keys` projection's part for the operator tools: BatchVoided voids a batch's available keys,
BatchRestored makes its voided keys available again (one UPDATE per run of events of a type), KeysMoved
moves its available keys to another pool (and SKU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import StoredEvent

from quanyi_inventory.projections._events import ProjectionError

BATCH_VOIDED = pb.BatchVoided.DESCRIPTOR.full_name
BATCH_RESTORED = pb.BatchRestored.DESCRIPTOR.full_name
KEYS_EXPORTED = pb.KeysExported.DESCRIPTOR.full_name
KEYS_MOVED = pb.KeysMoved.DESCRIPTOR.full_name


async def _moved(conn: Any, events: Sequence[StoredEvent], sql: str, what: str) -> None:
    batches = [e.payload.batch_id for e in events]
    expected = sum(int(e.payload.keys) for e in events)
    async with conn.cursor() as cur:
        await cur.execute(sql, (batches, [e.occurred_at for e in events]))
        if cur.rowcount != expected:
            raise ProjectionError(f"{what}: {cur.rowcount} keys changed, the events say {expected}")


async def voided(conn: Any, events: Sequence[StoredEvent]) -> None:
    await _moved(
        conn, events,
        "UPDATE keys k SET state = 'void', retired_at = v.at"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS v(batch_id, at)"
        " WHERE k.batch_id = v.batch_id AND k.state = 'available'",
        "a voided batch",
    )


async def restored(conn: Any, events: Sequence[StoredEvent]) -> None:
    await _moved(
        conn, events,
        "UPDATE keys k SET state = 'available', retired_at = NULL"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS v(batch_id, at)"
        " WHERE k.batch_id = v.batch_id AND k.state = 'void'",
        "a restored batch",
    )


async def moved(conn: Any, events: Sequence[StoredEvent]) -> None:
    # One event at a time: a batch may move twice in one run, and each move starts where the last ended.
    for e in events:
        p = e.payload
        async with conn.cursor() as cur:
            await cur.execute(
                "UPDATE keys SET pool_id = %s, sku_id = %s"
                " WHERE batch_id = %s AND pool_id = %s AND state = 'available'",
                (p.to_pool_id, p.to_sku_id, p.batch_id, p.from_pool_id),
            )
            if cur.rowcount != p.keys:
                raise ProjectionError(f"a moved batch: {cur.rowcount} keys moved, the event says {p.keys}")


HANDLERS = {BATCH_VOIDED: voided, BATCH_RESTORED: restored, KEYS_MOVED: moved}
