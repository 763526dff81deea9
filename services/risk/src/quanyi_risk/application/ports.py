"""The ports risk's application talks to, and its Unit of Work.

Each port has a Postgres adapter (`quanyi_risk.adapters.postgres`) and an in-memory fake
(`quanyi_risk.adapters.memory`); one contract suite (`tests/contracts`) holds both to the guarantees
stated here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quanyi_platform.uow import UnitOfWork

from quanyi_risk.domain.assessment import AssessOrder, BuyerVelocity
from quanyi_risk.domain.velocity import Decision


class VelocityWindows(ABC):
    """Buyers' velocity windows, read from their current state (the `order_velocity` projection)."""

    @abstractmethod
    async def load(self, commands: Sequence[AssessOrder], window: timedelta) -> dict[str, BuyerVelocity]:
        """The state of every buyer of `commands`, in one read.

        Guarantees: each buyer of `commands` has an entry. It holds the buyer's known orders placed
        strictly within `window` of the span from its earliest to its latest command, and those of the
        commands' orders the buyer has already placed, wherever in time they lie; those are all the
        rule needs. Orders appended earlier in the same unit of work are included. Until the unit of work
        ends, no other unit of work loads any of these buyers (so each decides on all orders decided
        before it).
        """


@dataclass(frozen=True)
class DecisionView:
    """Risk's decision on an order, as recorded."""

    order_id: str
    buyer_id: str
    decision: Decision
    reasons: tuple[str, ...]
    decided_at: datetime


class Decisions(ABC):
    """Decisions by order (the `decisions` projection)."""

    @abstractmethod
    async def get(self, order_id: str) -> DecisionView | None:
        """The decision recorded for `order_id` (the first, if there were several), or None."""


class RiskUnitOfWork(UnitOfWork):
    """One transaction over risk's event log and its read ports."""

    velocity: VelocityWindows
    decisions: Decisions
