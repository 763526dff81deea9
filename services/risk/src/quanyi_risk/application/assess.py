"""Assessing placed orders, a batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanyi_risk.adapters.proto import decided_new_event
from quanyi_risk.application.ports import RiskUnitOfWork
from quanyi_risk.domain.assessment import AssessOrder, RiskDecided, decide_all
from quanyi_risk.domain.velocity import VelocityRule


@dataclass(frozen=True)
class PlacedOrder:
    """An order to assess, with the ids its decision is traced to."""

    command: AssessOrder
    correlation_id: str = ""
    causation_id: str = ""


async def assess_placed_orders(
    uow: RiskUnitOfWork, rule: VelocityRule, placed: Sequence[PlacedOrder]
) -> list[RiskDecided]:
    """Decide every order of `placed`, in order, and record the decisions in one unit of work.

    One read loads every buyer the batch touches, the orders are decided in memory one after the other
    (orders of one buyer in the batch count against each other, as if they came one at a time), and one
    append records the new decisions (the projections then write them set-wise). An order decided before
    is not decided again. Raises InvalidOrder, recording nothing, when any order cannot be assessed.
    """
    if not placed:
        return []
    async with uow:
        commands = [p.command for p in placed]
        states = await uow.velocity.load(commands, rule.window)
        decided, _ = decide_all(rule, states, commands)
        new = [
            (event, p) for p, events in zip(placed, decided, strict=True) for event in events
        ]
        await uow.events.append([decided_new_event(e, p.correlation_id, p.causation_id) for e, p in new])
        await uow.commit()
    return [e for e, _ in new]
