"""Protobuf <-> domain: risk's events as the contract publishes them, and back."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.envelope import NewEvent, datetime_of

from quanyi_risk.domain.assessment import RiskDecided
from quanyi_risk.domain.velocity import Decision

RISK_DECIDED = risk_events.RiskDecided.DESCRIPTOR.full_name
# Every order's assessment is its own stream of one event, keyed (and partitioned) by the order id.
ASSESSMENT = "RiskAssessment"

_TO_PB = {
    Decision.APPROVE: risk_events.DECISION_APPROVE,
    Decision.REVIEW: risk_events.DECISION_REVIEW,
    Decision.REJECT: risk_events.DECISION_REJECT,
}
_FROM_PB = {pb: d for d, pb in _TO_PB.items()}


def decision_to_proto(decision: Decision) -> risk_events.Decision:
    return _TO_PB[decision]


def decided_to_proto(event: RiskDecided) -> risk_events.RiskDecided:
    placed_at = Timestamp()
    placed_at.FromDatetime(event.placed_at)
    return risk_events.RiskDecided(
        order_id=event.order_id,
        buyer_id=event.buyer_id,
        decision=_TO_PB[event.decision],
        reasons=list(event.reasons),
        placed_at=placed_at,
    )


def decided_from_proto(payload: risk_events.RiskDecided, occurred_at: datetime) -> RiskDecided:
    """The domain event; `occurred_at` (the event's own time) stands in for a `placed_at` recorded before
    the field existed."""
    placed_at = datetime_of(payload.placed_at) if payload.HasField("placed_at") else occurred_at
    return RiskDecided(
        order_id=payload.order_id,
        buyer_id=payload.buyer_id,
        placed_at=placed_at,
        decision=_FROM_PB[payload.decision],
        reasons=tuple(payload.reasons),
    )


def decided_new_event(event: RiskDecided, correlation_id: str, causation_id: str) -> NewEvent:
    """The event to append for `event`: the order's assessment stream, version 1 (there is only one)."""
    return NewEvent(
        aggregate_type=ASSESSMENT,
        aggregate_id=event.order_id,
        aggregate_version=1,
        payload=decided_to_proto(event),
        correlation_id=correlation_id or event.order_id,
        causation_id=causation_id,
    )
