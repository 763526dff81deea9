"""Assessing placed orders."""

from __future__ import annotations

from datetime import datetime
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
    """Decide on the buyer's known orders near this one, and record RiskDecided, in the caller's transaction.

    The buyer's advisory lock orders the decisions of concurrent workers on one buyer, so each one sees
    every order decided before it (the rule's guarantee needs that; see VelocityRule).
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"risk:{buyer_id}",))
    await conn.execute(
        "INSERT INTO order_velocity (order_id, buyer_id, placed_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (order_id) DO NOTHING",
        (order_id, buyer_id, placed_at),
    )
    cur = await conn.execute(
        "SELECT placed_at FROM order_velocity WHERE buyer_id = %s AND order_id <> %s"
        " AND placed_at > %s AND placed_at < %s",
        (buyer_id, order_id, placed_at - rule.window, placed_at + rule.window),
    )
    rows: list[Any] = await cur.fetchall()
    assessment = rule.assess(placed_at, [r["placed_at"] for r in rows])
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
