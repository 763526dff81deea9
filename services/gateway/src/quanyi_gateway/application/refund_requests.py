"""A buyer's refund request: the buyer asks for their paid order's money back; an operator decides (the
admin refund route refunds; a request only asks). One request per order: asking again returns the first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, get_args

import uuid_utils

from quanyi_gateway.application.errors import NotRefundable
from quanyi_gateway.application.model import RefundRequest, User
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.ports import RefundRequestStore

Reason = Literal["not_received", "not_working", "wrong_item", "changed_mind", "other"]
REASONS: tuple[str, ...] = get_args(Reason)
# The orders whose money was taken and not yet returned.
REFUNDABLE = frozenset({"CAPTURED", "PAID", "UNDER_REVIEW", "FULFILLED"})


class RefundRequests:
    """Buyers ask; operators list what was asked."""

    def __init__(
        self,
        orders: OrderQueries,
        store: RefundRequestStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._orders = orders
        self._store = store
        self._clock = clock

    async def request(self, buyer: User, order_id: str, reason: Reason) -> tuple[RefundRequest, bool]:
        """Ask for a refund of the buyer's own order; (the request, True when it is new). Raises
        OrderNotFound for an order that is not theirs, NotRefundable when it was not paid or is refunded
        already. A second request of one order returns the first one unchanged."""
        order = await self._orders.buyers_own(buyer, order_id)
        existing = await self._store.of_order(order_id)
        if existing is not None:
            return existing, False
        if order.status not in REFUNDABLE:
            raise NotRefundable(order_id, order.status)
        asked = RefundRequest(
            request_id=str(uuid_utils.uuid7()),
            order_id=order_id,
            buyer_id=str(buyer.user_id),
            reason=reason,
            requested_at=self._clock(),
        )
        stored = await self._store.add(asked)
        return stored, stored.request_id == asked.request_id

    async def of_buyer(self, buyer: User) -> dict[str, RefundRequest]:
        """The buyer's requests by order id."""
        return {r.order_id: r for r in await self._store.of_buyer(str(buyer.user_id))}

    async def latest(self, limit: int) -> list[RefundRequest]:
        """Every buyer's requests, newest first (for operators)."""
        return await self._store.latest(limit)
