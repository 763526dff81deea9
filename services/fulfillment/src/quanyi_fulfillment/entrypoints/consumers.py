"""Fulfillment's event handlers: translate a batch of events into one application call, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent, TransientError
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.adapters import mappers
from quanyi_fulfillment.application.deliver import deliver_reservations
from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_fulfillment.application.refunds import take_back_refunded

KEY_RESERVED = inventory_events.KeyReserved.DESCRIPTOR.full_name
ORDER_REFUNDED = orders_events.OrderRefunded.DESCRIPTOR.full_name


def key_reserved(
    bound_uow: Callable[[Any], FulfillmentUnitOfWork],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BatchHandler:
    """Delivers a batch of KeyReserved, then takes back the bundle points and memberships of the batch's
    OrderRefunded (orders' topic), in the consumer's transaction (`bound_uow(conn)` is a unit of work
    bound to it)."""

    async def apply(conn: Any, events: list[ReceivedEvent]) -> None:
        reserved = [ev for ev in events if ev.envelope.type == KEY_RESERVED]
        refunded = [ev for ev in events if ev.envelope.type == ORDER_REFUNDED]
        try:
            if reserved:
                batch = [
                    (mappers.reservation(ev.payload, ev.envelope.occurred_at), ev.event_id) for ev in reserved
                ]
                await deliver_reservations(bound_uow(conn), batch, clock())
            if refunded:
                await take_back_refunded(
                    bound_uow(conn), [(ev.payload.order_id, ev.event_id) for ev in refunded], clock()
                )
        except ConcurrencyConflict as exc:
            # Another consumer (a rebalance) delivered or took back one of these first: the retry finds it.
            raise TransientError("an order of the batch was delivered concurrently") from exc

    return BatchHandler(frozenset({KEY_RESERVED, ORDER_REFUNDED}), apply)
