"""Delivering reservations: the keys into the buyer's user centre at once, and the e-mail queued.

A whole batch of KeyReserved is one unit of work: every delivery it touches is loaded in one read, the
decisions are made in memory, and all new events are appended together (the projections then write the
user centre and the e-mail queue set-wise). Nothing here calls inventory or SMTP: the e-mail sender
(application/email.py) does, outside any transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_fulfillment.domain.aggregate import Delivery, deliver, evolve
from quanyi_fulfillment.domain.delivery import Reservation
from quanyi_fulfillment.domain.events import Recorded


async def deliver_reservations(
    uow: FulfillmentUnitOfWork, batch: Sequence[tuple[Reservation, str]], now: datetime
) -> list[Recorded]:
    """Deliver each (reservation, causation id) once; returns the events recorded.

    An order already delivered with the same keys (a redelivered or repeated KeyReserved, also within the
    batch) records nothing. Raises InvalidReservation or ConflictingReservation for a reservation that
    cannot be delivered, and KeyAlreadyDelivered when a key is already another order's; nothing of the
    batch is kept then (the consumer isolates the bad event).
    """
    async with uow:
        states: dict[str, Delivery] = await uow.deliveries.get_many({r.order_id for r, _ in batch})
        recorded: list[Recorded] = []
        for reservation, causation_id in batch:
            for r in deliver(states.get(reservation.order_id), reservation, now):
                states[r.order_id] = evolve(states.get(r.order_id), r)
                recorded.append(replace(r, causation_id=causation_id))
        await uow.record(recorded)
        await uow.commit()
    return recorded
