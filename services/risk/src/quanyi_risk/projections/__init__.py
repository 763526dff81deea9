"""Risk's read models, each a projection of its RiskDecided events.

`PROJECTIONS` is what `EventStore(..., projections=PROJECTIONS)` runs inline on every append and what
`quanyi replay risk` rebuilds; nothing else writes these tables.
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

from quanyi_risk.projections.decisions import DecisionsProjection
from quanyi_risk.projections.order_velocity import OrderVelocityProjection

PROJECTIONS: tuple[Projection, ...] = (OrderVelocityProjection(), DecisionsProjection())

__all__ = ["PROJECTIONS", "DecisionsProjection", "OrderVelocityProjection"]
