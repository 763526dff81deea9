"""A buyer's refund request: the buyer asks for their paid order's money back; an operator decides (the
admin refund route refunds; a request only asks). One request per order: asking again returns the first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal, get_args

import uuid_utils
from quanyi_platform import paging

from quanyi_gateway.application.errors import NotRefundable, OrderNotFound
from quanyi_gateway.application.model import Order, Page, RefundRequest, User
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.ports import RefundRequestStore

Reason = Literal["not_received", "not_working", "wrong_item", "changed_mind", "other"]
REASONS: tuple[str, ...] = get_args(Reason)
# The orders whose money was taken and not yet returned.
REFUNDABLE = frozenset({"CAPTURED", "PAID", "UNDER_REVIEW", "FULFILLED"})
#: Where a request stands (RefundRequest.state).
STATES = ("requested", "processing", "refunded", "declined")


def standing(order: Order) -> str:
    """Where a buyer's request of `order` stands, translated from the refunds orders reports (it decides
    them): "refunded" once the provider confirmed one, "processing" while one is on its way (being sent,
    waiting for inventory or for an operator after inventory refused), "declined" when an operator declined
    every one, "requested" while no operator has acted yet."""
    states = {r.state for r in order.refunds}
    if "REFUNDED" in states:
        return "refunded"
    if states - {"DECLINED"}:
        return "processing"
    return "declined" if states else "requested"


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
            return replace(existing, state=standing(order)), False
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
        return replace(stored, state=standing(order)), stored.request_id == asked.request_id

    async def of_orders(self, buyer: User, orders: Sequence[Order]) -> dict[str, RefundRequest]:
        """The buyer's requests of `orders` (the buyer's, as already read: a page of the user centre) by
        order id, each with where it stands; one read, whatever else the buyer asked."""
        mine = {o.order_id: o for o in orders if o.buyer_id == str(buyer.user_id)}
        return {
            r.order_id: replace(r, state=standing(mine[r.order_id]))
            for r in await self._store.of_orders(list(mine))
            if r.buyer_id == str(buyer.user_id)
        }

    async def of_buyer(self, buyer: User, limit: int, cursor: str = "") -> Page[RefundRequest]:
        """A page of the buyer's requests, newest first, each with where it stands (its order read, the
        page's all at once; one no longer the buyer's stands as it was asked). Raises InvalidPageToken for
        a cursor that is not one."""
        rows = await self._store.of_buyer(str(buyer.user_id), limit + 1, paging.decode(cursor))
        found, token = paging.page(rows, limit, _position)
        orders = await asyncio.gather(*(self._order(buyer, r.order_id) for r in found))
        shown = [
            replace(r, state=standing(o)) if o is not None else r for r, o in zip(found, orders, strict=True)
        ]
        return Page(tuple(shown), token)

    async def _order(self, buyer: User, order_id: str) -> Order | None:
        try:
            return await self._orders.buyers_own(buyer, order_id)
        except OrderNotFound:
            return None  # not the buyer's any more (erased): the request stands as it was asked

    async def of_order(self, buyer: User, order: Order) -> RefundRequest | None:
        """The buyer's request of their `order` (as already read), with where it stands; None: none."""
        found = await self._store.of_order(order.order_id)
        if found is None or found.buyer_id != str(buyer.user_id):
            return None
        return replace(found, state=standing(order))

    async def latest(self, limit: int, cursor: str = "") -> Page[RefundRequest]:
        """A page of every buyer's requests, newest first (for operators). Raises InvalidPageToken for a
        cursor that is not one."""
        rows = await self._store.latest(limit + 1, paging.decode(cursor))
        found, token = paging.page(rows, limit, _position)
        return Page(tuple(found), token)


def _position(r: RefundRequest) -> tuple[datetime, str]:
    return r.requested_at, r.request_id
