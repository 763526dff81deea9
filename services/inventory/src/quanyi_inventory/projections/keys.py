"""`keys`: the state of every imported key: available, reserved for a unit of an order line, expired, ...

KeysImported adds its batch's keys in one INSERT ... SELECT from the record (`key_material`, which the
shadow schema of a replay reads from live), with the batch's channel and each key's validity (its own row's,
else the batch's); KeyReserved marks keys reserved in one UPDATE; KeysExpired marks available keys expired
in one UPDATE. Runs of events of one type are applied set-wise in the order they come, so a batch gives the
rows that its events one at a time give. A key reserved or expired when it is not available, or never
imported, is refused: the store would be inconsistent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from quanyi_platform.envelope import datetime_of
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections import batch_keys, key_life
from quanyi_inventory.projections._events import (
    KEY_RESERVED,
    KEYS_EXPIRED,
    KEYS_IMPORTED,
    ProjectionError,
)


def _time(message: Any, field: str) -> datetime | None:
    """The UTC time of a Timestamp field, None when unset."""
    if not message.HasField(field):
        return None
    at: datetime = datetime_of(getattr(message, field))
    return at


async def _imported(conn: Any, events: Sequence[StoredEvent]) -> None:
    imports = [e.payload for e in events if e.payload.imported > 0]
    if not imports:
        return
    await conn.execute(
        "INSERT INTO keys (key_id, pool_id, sku_id, batch_id, state, unit_cost_minor, currency, channel,"
        " valid_from, expires_at)"
        " SELECT m.key_id, b.pool_id, b.sku_id, b.batch_id, 'available', COALESCE(m.unit_cost_minor, b.cost),"
        " b.currency, b.channel,"
        " COALESCE(m.valid_from, b.valid_from), COALESCE(m.expires_at, b.expires_at)"
        " FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],"
        " %b::timestamptz[], %b::timestamptz[])"
        " AS b(batch_id, pool_id, sku_id, cost, currency, channel, valid_from, expires_at)"
        " JOIN key_material m ON m.batch_id = b.batch_id"
        " ORDER BY m.key_id",
        (
            [p.batch_id for p in imports],
            [p.pool_id for p in imports],
            [p.sku_id for p in imports],
            [p.unit_cost.minor_units for p in imports],
            [p.unit_cost.currency for p in imports],
            [p.channel for p in imports],
            [_time(p, "valid_from") for p in imports],
            [_time(p, "expires_at") for p in imports],
        ),
    )


async def _reserved(conn: Any, events: Sequence[StoredEvent]) -> None:
    # One JSON text of [key, order, line, unit, time] rows: json.dumps is C, while dumping five arrays costs
    # ~1 µs an element even in binary (every claim of the batch is a row here).
    reserved: list[list[str | int]] = []
    for e in events:
        order_id, at = e.payload.order_id, e.occurred_at.isoformat()
        reserved.extend([k.key_id, order_id, k.line_no, k.unit_no, at] for k in e.payload.keys)
    if not reserved:
        return
    async with conn.cursor() as cur:
        await cur.execute(
            # The key ids also as an array: the planner takes json_array_elements for 100 rows whatever it
            # holds, so on a pool of some thousands of keys it hash-joined a sequential scan of `keys` per
            # batch (~3.5 ms for 20 keys of 10,600, the backbone's slowest statement); `= ANY` of an array
            # is estimated by its length and probes the primary key.
            "UPDATE keys k SET state = 'reserved', order_id = r->>1, line_no = (r->>2)::int,"
            " unit_no = (r->>3)::int, reserved_at = (r->>4)::timestamptz"
            " FROM json_array_elements(%s::json) AS j(r)"
            " WHERE k.key_id = ANY(%b::text[]) AND k.key_id = r->>0 AND k.state = 'available'",
            (json.dumps(reserved), [r[0] for r in reserved]),
        )
        if cur.rowcount != len(reserved):
            raise ProjectionError(
                f"{len(reserved) - cur.rowcount} of {len(reserved)} reserved keys were not available"
            )


async def _expired(conn: Any, events: Sequence[StoredEvent]) -> None:
    expired = [(k.key_id, _time(e.payload, "as_of")) for e in events for k in e.payload.keys]
    if not expired:
        return
    async with conn.cursor() as cur:
        await cur.execute(
            "UPDATE keys k SET state = 'expired', retired_at = x.at"
            " FROM unnest(%b::text[], %b::timestamptz[]) AS x(key_id, at)"
            " WHERE k.key_id = x.key_id AND k.state = 'available'",
            ([x[0] for x in expired], [x[1] for x in expired]),
        )
        if cur.rowcount != len(expired):
            raise ProjectionError(
                f"{len(expired) - cur.rowcount} of {len(expired)} expired keys were not available"
            )


_APPLY = {
    KEYS_IMPORTED: _imported,
    KEY_RESERVED: _reserved,
    KEYS_EXPIRED: _expired,
    **batch_keys.HANDLERS,
    **{t: key_life.apply_to_keys for t in key_life.KEY_MOVES},
}


class KeysProjection(Projection):
    name = "keys"
    tables = ("keys",)
    handles = frozenset(_APPLY)

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        for event_type, run in groupby(events, key=lambda e: e.type):
            await _APPLY[event_type](conn, list(run))
