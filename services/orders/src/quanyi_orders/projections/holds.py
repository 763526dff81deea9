"""`stock_holds`: the open stock holds of unpaid orders, a row per order and SKU (units of its lines).

OrderPlaced adds an order's rows; OrderPaid (the hold becomes inventory's claim of keys), OrderCancelled,
OrderExpired and OrderRefunded remove them. A batch's events are folded first: an order placed and ended
in one batch writes nothing. Every row is one order's, so concurrent appends never meet in a row, and at
most two statements run per batch (an INSERT of the new holds, a DELETE of the ended ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi_platform.projection import Projection, StoredEvent

_INSERT = (
    "INSERT INTO stock_holds (order_id, sku_id, quantity, buyer_id, client_tag, placed_at)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::integer[], %b::text[], %b::text[], %b::timestamptz[])"
)
_DELETE = "DELETE FROM stock_holds WHERE order_id = ANY(%b::text[])"

_PLACED = pb_events.OrderPlaced.DESCRIPTOR.full_name
_ENDS = frozenset(m.DESCRIPTOR.full_name for m in (
    pb_events.OrderPaid, pb_events.OrderCancelled, pb_events.OrderExpired, pb_events.OrderRefunded,
))


class HoldsProjection(Projection):
    """The open stock holds (see the module's docstring)."""

    name = "stock_holds"
    tables = ("stock_holds",)
    handles = frozenset({_PLACED, *_ENDS})
    # Read by placement's counts; this projection writes and deletes by order_id (its key's first column).
    indexes_after_load = frozenset({"stock_holds_sku", "stock_holds_buyer", "stock_holds_client"})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        placed: dict[str, tuple[Any, datetime]] = {}
        ended: set[str] = set()
        for stored in events:
            payload = stored.payload
            if stored.type == _PLACED:
                placed[payload.order_id] = (payload, stored.occurred_at)
            elif stored.type in _ENDS:
                ended.add(payload.order_id)
        rows: list[tuple[str, str, int, str, str, datetime]] = []
        for order_id, (payload, at) in placed.items():
            if order_id in ended:
                continue
            asked: dict[str, int] = {}
            for line in payload.lines:  # several lines of one SKU hold their sum
                asked[line.sku_id] = asked.get(line.sku_id, 0) + line.quantity
            rows += [(order_id, sku, qty, payload.buyer_id, payload.client_tag, at)
                     for sku, qty in sorted(asked.items())]
        # Never prepared: behind the orders projection in one pipeline, a statement whose turn comes after
        # a refused INSERT (a taken idempotency key) is skipped by the server, Parse included, and psycopg
        # would take it for prepared ("prepared statement _pg3_N does not exist" on the next use).
        if rows:
            await conn.execute(_INSERT, [list(column) for column in zip(*rows, strict=True)], prepare=False)
        gone = sorted(ended - placed.keys())
        if gone:
            await conn.execute(_DELETE, [gone], prepare=False)
