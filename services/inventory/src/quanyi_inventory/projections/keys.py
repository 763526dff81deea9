"""`keys`: the state of every imported key (available, or reserved for a unit of an order line).

KeysImported adds its batch's keys in one INSERT ... SELECT from the record (`key_material`, which the
shadow schema of a replay reads from live); KeyReserved marks keys reserved in one UPDATE. A key is
reserved after its import, so applying a batch's imports before its reservations is the same as applying
them in order. A key reserved twice, or never imported, is refused: the store would be inconsistent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent, of_type

from quanyi_inventory.projections._events import KEY_RESERVED, KEYS_IMPORTED, ProjectionError


class KeysProjection(Projection):
    name = "keys"
    tables = ("keys",)
    handles = frozenset({KEYS_IMPORTED, KEY_RESERVED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        imports = [e.payload for e in of_type(events, pb.KeysImported) if e.payload.imported > 0]
        if imports:
            await conn.execute(
                "INSERT INTO keys (key_id, pool_id, sku_id, batch_id, state, unit_cost_minor, currency)"
                " SELECT m.key_id, b.pool_id, b.sku_id, b.batch_id, 'available', b.cost, b.currency"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[])"
                " AS b(batch_id, pool_id, sku_id, cost, currency)"
                " JOIN key_material m ON m.batch_id = b.batch_id"
                " ORDER BY m.key_id",
                (
                    [p.batch_id for p in imports],
                    [p.pool_id for p in imports],
                    [p.sku_id for p in imports],
                    [p.unit_cost.minor_units for p in imports],
                    [p.unit_cost.currency for p in imports],
                ),
            )
        reserved = [(k, e) for e in of_type(events, pb.KeyReserved) for k in e.payload.keys]
        if reserved:
            async with conn.cursor() as cur:
                await cur.execute(
                    "UPDATE keys k SET state = 'reserved', order_id = r.order_id, line_no = r.line_no,"
                    " unit_no = r.unit_no, reserved_at = r.at"
                    " FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::timestamptz[])"
                    " AS r(key_id, order_id, line_no, unit_no, at)"
                    " WHERE k.key_id = r.key_id AND k.state = 'available'",
                    (
                        [k.key_id for k, _ in reserved],
                        [e.payload.order_id for _, e in reserved],
                        [k.line_no for k, _ in reserved],
                        [k.unit_no for k, _ in reserved],
                        [e.occurred_at for _, e in reserved],
                    ),
                )
                if cur.rowcount != len(reserved):
                    raise ProjectionError(
                        f"{len(reserved) - cur.rowcount} of {len(reserved)} reserved keys were not available"
                    )
