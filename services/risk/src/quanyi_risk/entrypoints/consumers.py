"""Risk's consumer: translates a batch of OrderPlaced events into one application call, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import AsyncConnection
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent
from quanyi_platform.envelope import datetime_of

from quanyi_risk.application.assess import PlacedOrder, assess_placed_orders
from quanyi_risk.application.ports import RiskUnitOfWork
from quanyi_risk.domain.assessment import AssessOrder
from quanyi_risk.domain.velocity import VelocityRule

ORDER_PLACED = orders_events.OrderPlaced.DESCRIPTOR.full_name


def placed_order(ev: ReceivedEvent) -> PlacedOrder:
    """The order an OrderPlaced event asks risk to assess; it was placed when the event occurred."""
    placed: orders_events.OrderPlaced = ev.payload
    return PlacedOrder(
        AssessOrder(
            order_id=placed.order_id,
            buyer_id=placed.buyer_id,
            placed_at=datetime_of(ev.envelope.occurred_at),
        ),
        correlation_id=ev.correlation_id or placed.order_id,
        causation_id=ev.event_id,
    )


def order_placed_handler(
    unit_of_work: Callable[[AsyncConnection[Any]], RiskUnitOfWork], rule: VelocityRule
) -> BatchHandler:
    """Assesses a fetched batch of OrderPlaced in the consumer's transaction (`unit_of_work(conn)` binds
    a unit of work to it)."""

    async def apply(conn: AsyncConnection[Any], events: list[ReceivedEvent]) -> None:
        await assess_placed_orders(unit_of_work(conn), rule, [placed_order(ev) for ev in events])

    return BatchHandler(frozenset({ORDER_PLACED}), apply)
