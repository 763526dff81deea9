"""What the user centre shows: a buyer's delivered keys (ids) and their redemption state, and an order's
deliveries on its channels."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from quanyi_platform import paging

from quanyi_fulfillment.application.ports import BuyerEntitlements, UnitOfWorkFactory
from quanyi_fulfillment.domain import latency
from quanyi_fulfillment.domain.aggregate import Delivery
from quanyi_fulfillment.domain.events import (
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Recorded,
)
from quanyi_fulfillment.domain.latency import LatencyStats


async def list_entitlements(uow: UnitOfWorkFactory, buyer_id: str) -> BuyerEntitlements:
    """The buyer's points balance and memberships, with the credits and grants they came from."""
    async with uow() as work:
        return await work.entitlements.for_buyer(buyer_id)


async def delivery_latency(
    uow: UnitOfWorkFactory, start: datetime, end: datetime, bucket: str
) -> list[LatencyStats]:
    """The percentiles of the time from payment to the first keys delivered, per hour or day of
    delivery from `start` to before `end` (at most 400 days); raises InvalidLatencyQuery otherwise."""
    latency.check_query(start, end, bucket)
    async with uow() as work:
        return await work.latency.stats(start, end, bucket)


# A page of ListDeliveries: this many delivered orders when not asked (0), never more than the maximum.
DELIVERIES_PAGE = 100
MAX_DELIVERIES_PAGE = 500


async def list_deliveries(
    uow: UnitOfWorkFactory,
    buyer_id: str,
    order_ids: Collection[str] | None = None,
    limit: int = 0,
    page_token: str = "",
) -> tuple[list[Delivery], str]:
    """A page of the buyer's deliveries (each with all its keys), newest delivered first (0: 100, at most
    500), only `order_ids`' when given (none that are not theirs), and the next page's token ("" on the
    last). Raises InvalidPageToken for a token that is not one."""
    limit = DELIVERIES_PAGE if limit <= 0 else min(limit, MAX_DELIVERIES_PAGE)
    after = paging.decode(page_token)
    async with uow() as work:
        found = await work.deliveries.for_buyer(buyer_id, limit + 1, after, order_ids)
    return paging.page(found, limit, lambda d: (d.delivered_at, d.order_id))


@dataclass(frozen=True)
class ChannelStep:
    """One step of an order's delivery on a channel: asked for, delivered, failed (`final`: given up), or
    cancelled (a kept channel whose target the buyer no longer keeps)."""

    channel: str
    outcome: Literal["requested", "delivered", "failed", "cancelled"]
    at: datetime
    attempt: int = 0
    final: bool = False
    requested_by: str = ""


def channel_steps(records: Iterable[Recorded]) -> list[ChannelStep]:
    """The channel steps among an order's recorded events, in their order (pure)."""
    steps: list[ChannelStep] = []
    for r in records:
        e = r.event
        if isinstance(e, ChannelRequested):
            steps.append(ChannelStep(e.channel, "requested", e.at, requested_by=e.requested_by))
        elif isinstance(e, ChannelDelivered):
            steps.append(ChannelStep(e.channel, "delivered", e.at, e.attempt))
        elif isinstance(e, DeliveryFailed):
            steps.append(ChannelStep(e.channel, "failed", e.at, e.attempt, e.final))
        elif isinstance(e, ChannelCancelled):
            steps.append(ChannelStep(e.channel, "cancelled", e.at))
    return steps


async def channel_history(uow: UnitOfWorkFactory, order_ids: Collection[str]) -> dict[str, list[ChannelStep]]:
    """Each order's deliveries on its channels, oldest first (an unknown order has none)."""
    async with uow() as work:
        records = await work.deliveries.order_events(order_ids)
    by_order: dict[str, list[Recorded]] = {}
    for r in records:
        by_order.setdefault(r.order_id, []).append(r)
    return {o: steps for o, rs in by_order.items() if (steps := channel_steps(rs))}
