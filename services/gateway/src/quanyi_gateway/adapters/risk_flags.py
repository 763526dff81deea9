"""The risk service tightens a flagged buyer's limits: the gateway follows risk's RiskDecided events, and a
buyer with an order held for review or rejected gets their account limits divided by a factor for a while
(`tightened_buyers`, read by every limited request).

One consumer group for all gateway replicas (they share the table); the inbox makes redelivery a no-op. The
window runs from the decision's own time, and the strictest tightening wins, so the rows do not depend on
batch boundaries or the order of buyers' events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.risk.v1 import events_pb2 as risk_events
from quanyi_platform.config import PlatformSettings
from quanyi_platform.consumer import BatchHandler, InboxConsumer, ReceivedEvent
from quanyi_platform.eventstore import topic_for

RISK_DECIDED = "quanyi.risk.v1.RiskDecided"
FLAGGING = frozenset({risk_events.DECISION_REVIEW, risk_events.DECISION_REJECT})
CONSUMER = "gateway-risk-flags"


def risk_flags_handler(factor: int, tighten_for: timedelta) -> BatchHandler:
    """Tightens the limits of each buyer risk held or rejected an order of, in one statement per batch."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        until: dict[str, datetime] = {}
        reasons: dict[str, str] = {}
        for event in events:
            decided = event.payload
            if decided.decision not in FLAGGING or not decided.buyer_id:
                continue
            end = event.envelope.occurred_at.ToDatetime(tzinfo=UTC) + tighten_for
            if decided.buyer_id not in until or end > until[decided.buyer_id]:
                until[decided.buyer_id] = end
                reasons[decided.buyer_id] = f"risk {risk_events.Decision.Name(decided.decision)}"
        if not until:
            return
        buyers = sorted(until)
        await conn.execute(
            "INSERT INTO tightened_buyers AS t (buyer_id, factor, until, reason)"
            " SELECT b, %s, u, r FROM unnest(%s::text[], %s::timestamptz[], %s::text[]) AS x(b, u, r)"
            " ON CONFLICT (buyer_id) DO UPDATE SET factor = greatest(t.factor, EXCLUDED.factor),"
            " until = greatest(t.until, EXCLUDED.until),"
            " reason = CASE WHEN EXCLUDED.until > t.until THEN EXCLUDED.reason ELSE t.reason END",
            (factor, buyers, [until[b] for b in buyers], [reasons[b] for b in buyers]),
        )

    return BatchHandler(frozenset({RISK_DECIDED}), apply)


def risk_flags_consumer(
    pool: AsyncConnectionPool, settings: PlatformSettings, factor: int, tighten_for: timedelta
) -> InboxConsumer:
    handler = risk_flags_handler(factor, tighten_for)
    # Off an order's way to delivery: idle, it fetches every consumer_background_idle_fetch_wait_ms.
    return InboxConsumer(CONSUMER, [topic_for("risk")], handler, pool, settings, background=True)
