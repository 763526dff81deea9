"""What a user may see of orders: their own (an administrator: any); another's looks like none at all."""

from __future__ import annotations

from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.application.model import Order, Page, User
from quanyi_gateway.application.ports import Orders


class OrderQueries:
    """Object-level access to orders, for buyers and administrators."""

    def __init__(self, orders: Orders) -> None:
        self._orders = orders

    async def own_order(self, user: User, order_id: str) -> Order:
        """The order when the user may see it. Raises OrderNotFound otherwise, as for a missing one."""
        order = await self._orders.get(order_id)
        if order is None or (order.buyer_id != str(user.user_id) and not user.is_admin):
            raise OrderNotFound(order_id)
        return order

    async def buyers_own(self, user: User, order_id: str) -> Order:
        """The order when it is the user's own purchase (an administrator's too: no one else's). Raises
        OrderNotFound otherwise, as for a missing one. For the buyer's pages, where an operator is a buyer."""
        order = await self._orders.get(order_id)
        if order is None or order.buyer_id != str(user.user_id):
            raise OrderNotFound(order_id)
        return order

    async def my_orders(self, user: User, limit: int, cursor: str = "") -> Page[Order]:
        """A page of the user's orders, newest first, after the page `cursor` ended ("" for the first)."""
        buyer_id = str(user.user_id)
        found = await self._orders.of_buyer(buyer_id, limit, cursor)
        return Page(tuple(o for o in found.items if o.buyer_id == buyer_id), found.next_cursor)
