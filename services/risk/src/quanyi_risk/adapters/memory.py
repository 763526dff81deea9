"""Risk's ports in memory: fakes that fold the fake event log, for tests of the application."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from quanyi_platform.projection import StoredEvent
from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork

from quanyi_risk.adapters.proto import RISK_DECIDED, decided_from_proto
from quanyi_risk.application.ports import Decisions, DecisionView, RiskUnitOfWork, VelocityWindows
from quanyi_risk.domain.assessment import AssessOrder, BuyerVelocity, RiskDecided, fold


def _decided(log: InMemoryEventLog) -> list[tuple[RiskDecided, StoredEvent]]:
    return [
        (decided_from_proto(e.payload, e.occurred_at), e)
        for e in log.all()
        if e.type == RISK_DECIDED
    ]


class InMemoryVelocityWindows(VelocityWindows):
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    async def load(self, commands: Sequence[AssessOrder], window: timedelta) -> dict[str, BuyerVelocity]:
        known = fold(e for e, _ in _decided(self._log))
        out: dict[str, BuyerVelocity] = {}
        for buyer in dict.fromkeys(c.buyer_id for c in commands):
            mine = [c for c in commands if c.buyer_id == buyer]
            lo = min(c.placed_at for c in mine) - window
            hi = max(c.placed_at for c in mine) + window
            wanted = {c.order_id for c in mine}
            orders = (known.get(buyer) or BuyerVelocity(buyer)).orders
            out[buyer] = BuyerVelocity(
                buyer, {o: t for o, t in orders.items() if lo < t < hi or o in wanted}
            )
        return out


class InMemoryDecisions(Decisions):
    def __init__(self, log: InMemoryEventLog) -> None:
        self._log = log

    async def get(self, order_id: str) -> DecisionView | None:
        for e, stored in _decided(self._log):
            if e.order_id == order_id:
                return DecisionView(e.order_id, e.buyer_id, e.decision, e.reasons, stored.occurred_at)
        return None


class InMemoryRiskUnitOfWork(InMemoryUnitOfWork, RiskUnitOfWork):
    """Risk's fake unit of work; units of work made on one InMemoryEventLog share its committed events."""

    def __init__(self, events: InMemoryEventLog | None = None) -> None:
        super().__init__(events)
        self.velocity = InMemoryVelocityWindows(self.events)
        self.decisions = InMemoryDecisions(self.events)
