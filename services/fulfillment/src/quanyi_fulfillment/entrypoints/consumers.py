"""Fulfillment's event handlers: translate a batch of events into one application call, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.consumer import BatchHandler, ReceivedEvent, TransientError
from quanyi_platform.eventstore import ConcurrencyConflict

from quanyi_fulfillment.adapters import mappers
from quanyi_fulfillment.application.deliver import deliver_reservations
from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork

KEY_RESERVED = inventory_events.KeyReserved.DESCRIPTOR.full_name


def key_reserved(
    bound_uow: Callable[[Any], FulfillmentUnitOfWork],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BatchHandler:
    """Delivers a batch of KeyReserved in the consumer's transaction (`bound_uow(conn)` is a unit of work
    bound to it)."""

    async def apply(conn: Any, events: list[ReceivedEvent]) -> None:
        batch = [(mappers.reservation(ev.payload), ev.event_id) for ev in events]
        try:
            await deliver_reservations(bound_uow(conn), batch, clock())
        except ConcurrencyConflict as exc:
            # Another consumer (a rebalance) delivered one of these orders first: the retried batch finds it.
            raise TransientError("an order of the batch was delivered concurrently") from exc

    return BatchHandler(frozenset({KEY_RESERVED}), apply)
