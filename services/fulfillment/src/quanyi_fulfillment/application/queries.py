"""What the user centre shows: a buyer's delivered keys (ids) and their redemption state."""

from __future__ import annotations

from quanyi_fulfillment.application.ports import UnitOfWorkFactory
from quanyi_fulfillment.domain.aggregate import Delivery


async def list_deliveries(uow: UnitOfWorkFactory, buyer_id: str, order_id: str | None) -> list[Delivery]:
    """The buyer's deliveries, oldest first; only `order_id`'s when given (empty when it is not theirs)."""
    async with uow() as work:
        return await work.deliveries.for_buyer(buyer_id, order_id)
