"""Taking back a refunded order's bundle points and memberships (orders' OrderRefunded).

orders records OrderRefunded once a refund takes the order's last units (and inventory settled them), so
every unit of the order is refunded: each points credit of the order is debited and each membership grant
shortened, once (domain.entitlements.take_back). A whole batch is one unit of work, like deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_fulfillment.domain import entitlements
from quanyi_fulfillment.domain.events import MembershipShortened, Recorded


async def take_back_refunded(
    uow: FulfillmentUnitOfWork, batch: Sequence[tuple[str, str]], now: datetime
) -> list[Recorded]:
    """For each (refunded order id, causation id), record PointsDebited for each of its credited units and
    MembershipShortened for each of its grants not taken back yet; returns the events recorded. An order
    with nothing granted (refunded before delivery, or no bundle) records nothing; a repeated or
    redelivered refund, also within the batch, records nothing again. A concurrent take-back or grant of
    a plan conflicts on its stream (ConcurrencyConflict: the consumer retries the batch)."""
    async with uow:
        order_ids = {order_id for order_id, _ in batch}
        by_order: dict[str, list[Recorded]] = {o: [] for o in order_ids}
        for r in await uow.deliveries.order_events(order_ids):
            by_order.setdefault(r.order_id, []).append(r)
        plans = entitlements.plans_granted([r for rs in by_order.values() for r in rs])
        memberships = await uow.entitlements.memberships(plans) if plans else {}
        recorded: list[Recorded] = []
        for order_id, causation_id in batch:
            taken = entitlements.take_back(order_id, by_order[order_id], memberships, now)
            for r in taken:
                if isinstance(r.event, MembershipShortened):
                    key = (r.event.buyer_id, r.event.plan)
                    memberships[key] = entitlements.evolve(memberships.get(key), r)
                by_order[order_id].append(r)
                recorded.append(replace(r, causation_id=causation_id))
        await uow.record(recorded)
        await uow.commit()
    return recorded
