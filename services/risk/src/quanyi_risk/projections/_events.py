"""What risk's projections read from a batch of stored events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.projection import StoredEvent, of_type

from quanyi_risk.adapters.proto import decided_from_proto
from quanyi_risk.domain.assessment import RiskDecided


def first_decisions(events: Sequence[StoredEvent]) -> list[tuple[RiskDecided, datetime]]:
    """The batch's RiskDecided events with their times, only the first of each order (the one that
    counts, whatever the batch boundaries: the tables keep the first row of an order as well)."""
    seen: set[str] = set()
    out: list[tuple[RiskDecided, datetime]] = []
    for stored in of_type(events, risk_events.RiskDecided):
        payload = stored.payload
        assert isinstance(payload, risk_events.RiskDecided)
        event = decided_from_proto(payload, stored.occurred_at)
        if event.order_id in seen:
            continue
        seen.add(event.order_id)
        out.append((event, stored.occurred_at))
    return out
