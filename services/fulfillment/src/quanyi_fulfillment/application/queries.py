"""What the user centre shows: a buyer's delivered keys (ids) and their redemption state, and an order's
deliveries on its channels."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from quanyi_fulfillment.application.ports import BuyerEntitlements, UnitOfWorkFactory
from quanyi_fulfillment.domain.aggregate import Delivery
from quanyi_fulfillment.domain.events import (
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Recorded,
)


async def list_entitlements(uow: UnitOfWorkFactory, buyer_id: str) -> BuyerEntitlements:
    """The buyer's points balance and memberships, with the credits and grants they came from."""
    async with uow() as work:
        return await work.entitlements.for_buyer(buyer_id)


async def list_deliveries(uow: UnitOfWorkFactory, buyer_id: str, order_id: str | None) -> list[Delivery]:
    """The buyer's deliveries, oldest first; only `order_id`'s when given (empty when it is not theirs)."""
    async with uow() as work:
        return await work.deliveries.for_buyer(buyer_id, order_id)


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
