"""`key_batches`: what each import stored, from which file, and which master key wraps its data key now.

One INSERT for the batch's imports, one UPDATE for its rotations (folded per batch first: rotations read
the wrapping they replace, so later ones come later in the store too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

from quanyi_inventory.projections._events import DATA_KEYS_REWRAPPED, KEYS_IMPORTED
from quanyi_inventory.projections.batch_keys import BATCH_RESTORED, BATCH_VOIDED, KEYS_MOVED


class KeyBatchesProjection(Projection):
    name = "key_batches"
    tables = ("key_batches",)
    handles = frozenset({KEYS_IMPORTED, DATA_KEYS_REWRAPPED, BATCH_VOIDED, BATCH_RESTORED, KEYS_MOVED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        imports = of_type(events, pb.KeysImported)
        if imports:
            p = [e.payload for e in imports]
            await conn.execute(
                "INSERT INTO key_batches (batch_id, pool_id, sku_id, master_key_id, unit_cost_minor,"
                " currency, imported, duplicates, rejected, actor, created_at, file_sha256, file_name,"
                " format, mode, file_rows, file_bytes, voided, version)"
                " SELECT u.*, false, 1"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],"
                " %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[],"
                " %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[]) AS u",
                (
                    [x.batch_id for x in p],
                    [x.pool_id for x in p],
                    [x.sku_id for x in p],
                    [x.master_key_id for x in p],
                    [x.unit_cost.minor_units for x in p],
                    [x.unit_cost.currency for x in p],
                    [x.imported for x in p],
                    [x.duplicates for x in p],
                    [x.rejected for x in p],
                    [x.actor for x in p],
                    [e.occurred_at for e in imports],
                    [x.source.file_sha256 for x in p],
                    [x.source.file_name for x in p],
                    [x.source.format for x in p],
                    [x.source.mode for x in p],
                    [x.source.rows for x in p],
                    [x.source.bytes for x in p],
                ),
            )
        wrapped_by: dict[str, str] = {}
        for e in of_type(events, pb.DataKeysRewrapped):
            for b in e.payload.batches:
                wrapped_by[b.batch_id] = e.payload.master_key_id
        if wrapped_by:
            batches = sorted(wrapped_by)
            await conn.execute(
                "UPDATE key_batches b SET master_key_id = u.master_key_id"
                " FROM unnest(%s::text[], %s::text[]) AS u(batch_id, master_key_id)"
                " WHERE b.batch_id = u.batch_id",
                (batches, [wrapped_by[b] for b in batches]),
            )
        # A batch's voids and restores: its aggregate's versions order them, the highest wins.
        states: dict[str, tuple[int, bool]] = {}
        for e in events:
            if isinstance(e.payload, pb.BatchVoided | pb.BatchRestored):
                seen = states.get(e.payload.batch_id)
                if seen is None or e.aggregate_version > seen[0]:
                    states[e.payload.batch_id] = (e.aggregate_version, isinstance(e.payload, pb.BatchVoided))
        if states:
            ids = sorted(states)
            await conn.execute(
                "UPDATE key_batches b SET voided = u.voided, version = u.version"
                " FROM unnest(%s::text[], %s::int[], %s::boolean[]) AS u(batch_id, version, voided)"
                " WHERE b.batch_id = u.batch_id AND b.version < u.version",
                (ids, [states[b][0] for b in ids], [states[b][1] for b in ids]),
            )
        # A batch's moves, in version order: it ends in the last one's pool.
        moves: dict[str, tuple[int, str, str]] = {}
        for e in events:
            if isinstance(e.payload, pb.KeysMoved):
                last = moves.get(e.payload.batch_id)
                if last is None or e.aggregate_version > last[0]:
                    moves[e.payload.batch_id] = (
                        e.aggregate_version, e.payload.to_pool_id, e.payload.to_sku_id
                    )
        if moves:
            ids = sorted(moves)
            await conn.execute(
                "UPDATE key_batches b SET pool_id = u.pool_id, sku_id = u.sku_id,"
                " version = GREATEST(b.version, u.version)"
                " FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[])"
                " AS u(batch_id, version, pool_id, sku_id)"
                " WHERE b.batch_id = u.batch_id",
                (ids, [moves[b][0] for b in ids], [moves[b][1] for b in ids], [moves[b][2] for b in ids]),
            )

