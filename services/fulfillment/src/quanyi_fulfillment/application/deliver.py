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
from quanyi_fulfillment.domain import entitlements
from quanyi_fulfillment.domain.aggregate import Delivery, deliver, evolve
from quanyi_fulfillment.domain.delivery import Reservation
from quanyi_fulfillment.domain.events import MembershipGranted, Recorded


async def deliver_reservations(
    uow: FulfillmentUnitOfWork, batch: Sequence[tuple[Reservation, str]], now: datetime
) -> list[Recorded]:
    """Deliver each (reservation, causation id) once, with its bundles' points and memberships (granted
    in the same unit of work: a concurrent grant of a buyer's plan conflicts on the plan's stream, and
    the consumer retries the batch); returns the events recorded.

    An order already delivered with the same keys (a redelivered or repeated KeyReserved, also within the
    batch) records nothing. Raises InvalidReservation or ConflictingReservation for a reservation that
    cannot be delivered, and KeyAlreadyDelivered when a key is already another order's; nothing of the
    batch is kept then (the consumer isolates the bad event).
    """
    async with uow:
        states: dict[str, Delivery] = await uow.deliveries.get_many({r.order_id for r, _ in batch})
        plans = set().union(*(entitlements.plans_of(r) for r, _ in batch))
        memberships = await uow.entitlements.memberships(plans) if plans else {}
        # An order of points and memberships only has no key, so no row of the deliveries projection.
        keyless = {r.order_id for r, _ in batch if not r.keys}
        granted = await uow.entitlements.granted_orders(keyless) if keyless else set()
        recorded: list[Recorded] = []
        for reservation, causation_id in batch:
            if reservation.order_id in granted and reservation.order_id not in states:
                continue
            delivered = deliver(states.get(reservation.order_id), reservation, now)
            for r in delivered:
                states[r.order_id] = evolve(states.get(r.order_id), r)
                recorded.append(replace(r, causation_id=causation_id))
            if not delivered:
                continue
            # The bundles' points and memberships are granted with the delivery, each its own event.
            for r in entitlements.grant(reservation, memberships, now):
                if isinstance(r.event, MembershipGranted):
                    key = (r.event.buyer_id, r.event.plan)
                    memberships[key] = entitlements.evolve(memberships.get(key), r)
                recorded.append(replace(r, causation_id=causation_id))
        await uow.record(recorded)
        await uow.commit()
    return recorded
