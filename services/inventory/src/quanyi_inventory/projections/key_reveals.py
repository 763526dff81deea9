"""`key_reveals`: the audit trail of reveals, one row per key revealed (KeysRevealed), one INSERT per
batch. The table refuses UPDATE and DELETE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import KEYS_REVEALED


class KeyRevealsProjection(Projection):
    name = "key_reveals"
    tables = ("key_reveals",)
    handles = frozenset({KEYS_REVEALED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = [
            (e.payload.reveal_id, position, key_id, e.payload.order_id, e.payload.actor, e.payload.purpose,
             e.occurred_at)
            for e in events
            for position, key_id in enumerate(e.payload.key_ids, start=1)
        ]
        if not rows:
            return
        await conn.execute(
            "INSERT INTO key_reveals (reveal_id, position, key_id, order_id, actor, purpose, revealed_at)"
            " SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::timestamptz[])",
            tuple([r[i] for r in rows] for i in range(7)),
        )
