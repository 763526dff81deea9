"""`decisions`: risk's verdict on each order, as GetDecision answers it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_risk.adapters.proto import RISK_DECIDED
from quanyi_risk.projections._events import first_decisions


class DecisionsProjection(Projection):
    """One row per decided order; `decided_at` is the event's time. One INSERT per batch."""

    name = "decisions"
    tables = ("decisions",)
    handles = frozenset({RISK_DECIDED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = first_decisions(events)
        if not rows:
            return
        # A text[] per row does not survive unnest (it flattens), so reasons travel as JSON arrays.
        await conn.execute(
            "INSERT INTO decisions (order_id, buyer_id, decision, reasons, decided_at)"
            " SELECT u.order_id, u.buyer_id, u.decision,"
            " ARRAY(SELECT r.value FROM jsonb_array_elements_text(u.reasons::jsonb) WITH ORDINALITY"
            " AS r(value, n) ORDER BY r.n), u.decided_at"
            " FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])"
            " AS u(order_id, buyer_id, decision, reasons, decided_at)"
            " ON CONFLICT (order_id) DO NOTHING",
            (
                [e.order_id for e, _ in rows],
                [e.buyer_id for e, _ in rows],
                [e.decision.value for e, _ in rows],
                [json.dumps(list(e.reasons)) for e, _ in rows],
                [at for _, at in rows],
            ),
        )
