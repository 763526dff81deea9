"""Risk's ports on Postgres: reads of the projections, in the unit of work's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from quanyi_platform.uow import PgUnitOfWork

from quanyi_risk.application.ports import Decisions, DecisionView, RiskUnitOfWork, VelocityWindows
from quanyi_risk.domain.assessment import AssessOrder, BuyerVelocity
from quanyi_risk.domain.velocity import Decision


class PgVelocityWindows(VelocityWindows):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def load(self, commands: Sequence[AssessOrder], window: timedelta) -> dict[str, BuyerVelocity]:
        if not commands:
            return {}
        spans: dict[str, tuple[datetime, datetime]] = {}
        for c in commands:
            lo, hi = spans.get(c.buyer_id, (c.placed_at, c.placed_at))
            spans[c.buyer_id] = (min(lo, c.placed_at), max(hi, c.placed_at))
        buyers = list(spans)
        # The buyers' locks, in one statement, in a fixed order (by lock key) so that two batches
        # sharing buyers never wait on each other in a cycle. The key is the one risk has always used.
        await self._conn.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT"
            " hashtextextended('risk:' || b, 0) AS k FROM unnest(%b::text[]) AS b ORDER BY k) AS keys",
            (buyers,),
        )
        # A new statement, so its snapshot holds what the lock holders before us committed.
        cur = await self._conn.execute(
            "SELECT v.order_id, v.buyer_id, v.placed_at"
            " FROM unnest(%b::text[], %b::timestamptz[], %b::timestamptz[]) AS w(buyer_id, lo, hi)"
            " JOIN order_velocity v ON v.buyer_id = w.buyer_id AND v.placed_at > w.lo AND v.placed_at < w.hi"
            " UNION"
            " SELECT order_id, buyer_id, placed_at FROM order_velocity"
            " WHERE order_id = ANY(%b::text[]) AND buyer_id = ANY(%b::text[])",
            (
                buyers,
                [spans[b][0] - window for b in buyers],
                [spans[b][1] + window for b in buyers],
                [c.order_id for c in commands],
                buyers,
            ),
        )
        orders: dict[str, dict[str, datetime]] = {b: {} for b in buyers}
        for row in await cur.fetchall():
            orders[row["buyer_id"]][row["order_id"]] = row["placed_at"]
        return {b: BuyerVelocity(b, orders[b]) for b in buyers}


class PgDecisions(Decisions):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def get(self, order_id: str) -> DecisionView | None:
        cur = await self._conn.execute(
            "SELECT order_id, buyer_id, decision, reasons, decided_at FROM decisions WHERE order_id = %s",
            (order_id,),
        )
        row: Any = await cur.fetchone()
        if row is None:
            return None
        return DecisionView(
            order_id=row["order_id"],
            buyer_id=row["buyer_id"],
            decision=Decision(row["decision"]),
            reasons=tuple(row["reasons"]),
            decided_at=row["decided_at"],
        )


class PgRiskUnitOfWork(PgUnitOfWork, RiskUnitOfWork):
    """Risk's unit of work on Postgres: its own transaction from a pool, or a consumer's (conn=...)."""

    def _bind(self, conn: Any) -> None:
        self.velocity = PgVelocityWindows(conn)
        self.decisions = PgDecisions(conn)
