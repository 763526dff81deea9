"""Questions risk answers."""

from __future__ import annotations

from quanyi_risk.application.ports import DecisionView, RiskUnitOfWork


async def get_decision(uow: RiskUnitOfWork, order_id: str) -> DecisionView | None:
    """The decision recorded for `order_id`, or None while there is none."""
    async with uow:
        return await uow.decisions.get(order_id)
