"""`delivery_latency`: one row per delivered order, its latency from payment to the first keys delivered
(domain.latency.of). KeyDelivered is version 1 of its order's Delivery stream, so a row is written once:
the batch's rows are de-duplicated by order and inserted with ON CONFLICT DO NOTHING, one statement per
batch; the row depends only on that event, so batches, order and replay give the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import KEY_DELIVERED, recorded_of
from quanyi_fulfillment.domain import latency
from quanyi_fulfillment.domain.events import DELIVERY, KeyDelivered


class DeliveryLatency(Projection):
    name = "delivery_latency"
    tables = ("delivery_latency",)
    handles = frozenset({KEY_DELIVERED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows: dict[str, latency.Latency] = {}
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None or recorded.stream != DELIVERY:
                continue
            if not isinstance(recorded.event, KeyDelivered):
                continue
            found = latency.of(recorded.event)
            if found is not None:
                rows.setdefault(found.order_id, found)
        if not rows:
            return
        ordered = [rows[o] for o in sorted(rows)]
        await conn.execute(
            "INSERT INTO delivery_latency (order_id, delivered_at, latency_ms, since)"
            " SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::bigint[], %b::text[])"
            " ON CONFLICT (order_id) DO NOTHING",
            (
                [r.order_id for r in ordered],
                [r.delivered_at for r in ordered],
                [r.latency_ms for r in ordered],
                [r.since for r in ordered],
            ),
        )
