"""The user centre's keys: a buyer's delivered keys, revealed in plaintext under inventory's audit."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from quanyi_gateway.application.model import (
    ChannelStep,
    DeliveredKey,
    Delivery,
    Entitlements,
    Order,
    OwnedKey,
    Page,
    User,
)
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.ports import Deliveries, KeyVault

REVEAL_PURPOSE = "user-center"
# The most delivered orders one page of Deliveries holds (fulfillment's ListDeliveries).
MAX_DELIVERIES_PAGE = 500


class MyKeys:
    """Reveals a buyer's delivered keys: one audited reveal per order, a page of orders at once."""

    def __init__(self, orders: OrderQueries, deliveries: Deliveries, vault: KeyVault) -> None:
        self._orders = orders
        self._deliveries = deliveries
        self._vault = vault

    async def delivered(
        self, buyer: User, order_id: str = "", order_ids: Sequence[str] = ()
    ) -> list[OwnedKey]:
        """The buyer's delivered keys of one order (`order_id`: raises OrderNotFound when it is not the
        buyer's) or of these orders (a listed page's, at most 500; others' are left out), without their
        plaintext (nothing is revealed or audited), with their redemption, state and validity."""
        if order_id:
            await self._orders.buyers_own(buyer, order_id)
        wanted = [order_id] if order_id else list(order_ids)
        if not wanted:
            return []
        return await self._owned(buyer, (await self._page(buyer, wanted)).items)

    async def owned_key(self, buyer: User, key_id: str) -> OwnedKey | None:
        """One of the buyer's delivered keys (as `delivered`), or None when it is not theirs. Walks the
        buyer's deliveries a page at a time."""
        cursor = ""
        while True:
            found = await self._page(buyer, limit=MAX_DELIVERIES_PAGE, cursor=cursor)
            mine = [d for d in found.items if d.key_id == key_id]
            if mine:
                return (await self._owned(buyer, mine))[0]
            if not found.next_cursor:
                return None
            cursor = found.next_cursor

    async def _page(
        self, buyer: User, order_ids: Sequence[str] = (), limit: int = 0, cursor: str = ""
    ) -> Page[Delivery]:
        """A page of the buyer's deliveries (Deliveries.of_buyer), only ever the buyer's own."""
        buyer_id = str(buyer.user_id)
        found = await self._deliveries.of_buyer(buyer_id, order_ids, limit, cursor)
        wanted = set(order_ids)
        return Page(
            tuple(d for d in found.items if d.buyer_id == buyer_id and (not wanted or d.order_id in wanted)),
            found.next_cursor,
        )

    async def _owned(self, buyer: User, deliveries: Sequence[Delivery]) -> list[OwnedKey]:
        facts = {f.key_id: f for f in await self._vault.describe([d.key_id for d in deliveries])}
        return [
            OwnedKey(
                d.order_id, d.key_id, d.sku_id, d.delivered_at, d.redeemed_at,
                facts[d.key_id].state if d.key_id in facts else "",
                facts[d.key_id].valid_from if d.key_id in facts else None,
                facts[d.key_id].expires_at if d.key_id in facts else None,
            )
            for d in deliveries
        ]

    async def entitlements(self, buyer: User) -> Entitlements:
        """The buyer's points balance and memberships from bundles, with the orders they came from."""
        return await self._deliveries.entitlements(str(buyer.user_id))

    async def channel_history(self, buyer: User, order_id: str) -> list[ChannelStep]:
        """The buyer's order's deliveries on its channels (requests, deliveries, failures), oldest first;
        who asked is "buyer" for this buyer and "support" for anyone else. Raises OrderNotFound when the
        order is not theirs."""
        await self._orders.buyers_own(buyer, order_id)
        return (await self._histories(buyer, [order_id])).get(order_id, [])

    async def channel_histories(self, buyer: User, orders: Sequence[Order]) -> dict[str, list[ChannelStep]]:
        """The same for several of the buyer's orders at once (others' orders are left out)."""
        mine = [o.order_id for o in orders if o.buyer_id == str(buyer.user_id)]
        return await self._histories(buyer, mine) if mine else {}

    async def _histories(self, buyer: User, order_ids: Sequence[str]) -> dict[str, list[ChannelStep]]:
        me = f"buyer:{buyer.user_id}"

        def asked_by(requested_by: str) -> str:
            if not requested_by:
                return ""
            return "buyer" if requested_by == me else "support"

        return {
            order_id: [replace(s, requested_by=asked_by(s.requested_by)) for s in steps]
            for order_id, steps in (await self._deliveries.channel_steps(order_ids)).items()
        }

    async def reveal(
        self, buyer: User, order_id: str = "", key_id: str = "", limit: int = 0, cursor: str = ""
    ) -> Page[DeliveredKey]:
        """A page of the buyer's delivered keys: `limit` delivered orders' keys (0: a default page), newest
        delivered first, after the page `cursor` ended; of one order when `order_id` is given (one page),
        only the key `key_id` when that is given too (a reveal on click: only that key is revealed and
        audited). Only the page's keys are revealed and audited.

        Raises OrderNotFound when that order is not the buyer's. Only keys that fulfillment delivered to
        this buyer are asked for, and only those inventory confirms for the order are returned.
        """
        buyer_id = str(buyer.user_id)
        if order_id:
            await self._orders.own_order(buyer, order_id)
        listed = await self._page(buyer, [order_id] if order_id else (), limit, cursor)
        by_order: dict[str, dict[str, Delivery]] = defaultdict(dict)
        for d in listed.items:
            if not key_id or d.key_id == key_id:
                by_order[d.order_id][d.key_id] = d
        orders = list(by_order)
        revealed = await asyncio.gather(
            *(
                self._vault.reveal(o, list(by_order[o]), f"buyer:{buyer_id}", REVEAL_PURPOSE)
                for o in orders
            )
        )
        keys: list[DeliveredKey] = []
        for o, found in zip(orders, revealed, strict=True):
            for k in found:
                delivery = by_order[o].get(k.key_id)
                if delivery is None:
                    continue
                keys.append(
                    DeliveredKey(
                        order_id=o,
                        key_id=k.key_id,
                        sku_id=k.sku_id or delivery.sku_id,
                        code=k.code,
                        password=k.password,
                        delivered_at=delivery.delivered_at,
                        redeemed_at=delivery.redeemed_at or None,
                    )
                )
        return Page(tuple(keys), listed.next_cursor)
