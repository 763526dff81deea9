"""Orders' read models, each a projection of orders' own events.

`PROJECTIONS` is what `EventStore(..., projections=PROJECTIONS)` runs inline on every append and what
`quanyi replay orders` rebuilds; nothing else writes these tables.
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

from quanyi_orders.projections.coupons import CouponsProjection
from quanyi_orders.projections.holds import HoldsProjection
from quanyi_orders.projections.orders import OrdersProjection
from quanyi_orders.projections.queue import QueueProjection
from quanyi_orders.projections.refunds import RefundsProjection

PROJECTIONS: tuple[Projection, ...] = (
    OrdersProjection(), RefundsProjection(), QueueProjection(), HoldsProjection(), CouponsProjection(),
)

__all__ = [
    "PROJECTIONS", "CouponsProjection", "HoldsProjection", "OrdersProjection", "QueueProjection",
    "RefundsProjection",
]
