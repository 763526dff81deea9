"""Assessing placed orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_risk.domain.velocity import Assessment, Decision, VelocityRule

_DECISION_PB = {
    Decision.APPROVE: risk_events.DECISION_APPROVE,
    Decision.REVIEW: risk_events.DECISION_REVIEW,
    Decision.REJECT: risk_events.DECISION_REJECT,
}


async def assess_placed_order(
    conn: AsyncConnection[Any],
    store: EventStore,
    rule: VelocityRule,
    *,
    order_id: str,
    buyer_id: str,
    placed_at: datetime,
    correlation_id: str,
    causation_id: str,
) -> Assessment:
    """Count the buyer's orders in the window, decide, and record RiskDecided, in the caller's transaction."""
    await conn.execute(
        "INSERT INTO order_velocity (order_id, buyer_id, placed_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (order_id) DO NOTHING",
        (order_id, buyer_id, placed_at),
    )
    cur = await conn.execute(
        "SELECT count(*) AS n FROM order_velocity WHERE buyer_id = %s AND placed_at > %s AND placed_at <= %s",
        (buyer_id, placed_at - timedelta(seconds=rule.window_s), placed_at),
    )
    row: Any = await cur.fetchone()
    assessment = rule.assess(int(row["n"]))
    await conn.execute(
        "INSERT INTO decisions (order_id, buyer_id, decision, reasons) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (order_id) DO NOTHING",
        (order_id, buyer_id, assessment.decision.value, list(assessment.reasons)),
    )
    await store.append(
        conn,
        [
            NewEvent(
                aggregate_type="RiskAssessment",
                aggregate_id=order_id,
                aggregate_version=1,
                payload=risk_events.RiskDecided(
                    order_id=order_id,
                    buyer_id=buyer_id,
                    decision=_DECISION_PB[assessment.decision],
                    reasons=list(assessment.reasons),
                ),
                correlation_id=correlation_id,
                causation_id=causation_id,
            )
        ],
    )
    return assessment
