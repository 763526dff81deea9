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
    User,
)
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.ports import Deliveries, KeyVault

REVEAL_PURPOSE = "user-center"


class MyKeys:
    """Reveals a buyer's delivered keys: one audited reveal per order, all orders at once."""

    def __init__(self, orders: OrderQueries, deliveries: Deliveries, vault: KeyVault) -> None:
        self._orders = orders
        self._deliveries = deliveries
        self._vault = vault

    async def delivered(self, buyer: User, order_id: str = "") -> list[OwnedKey]:
        """The buyer's delivered keys without their plaintext (nothing is revealed or audited), with their
        redemption, state and validity; of one order when `order_id` is given (raises OrderNotFound when
        it is not the buyer's)."""
        buyer_id = str(buyer.user_id)
        if order_id:
            await self._orders.buyers_own(buyer, order_id)
        deliveries = [
            d for d in await self._deliveries.of_buyer(buyer_id, order_id)
            if d.buyer_id == buyer_id and (not order_id or d.order_id == order_id)
        ]
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

    async def reveal(self, buyer: User, order_id: str = "", key_id: str = "") -> list[DeliveredKey]:
        """The buyer's delivered keys, of one order when `order_id` is given, only the key `key_id` when
        that is given too (a reveal on click: only that key is revealed and audited).

        Raises OrderNotFound when that order is not the buyer's. Only keys that fulfillment delivered to
        this buyer are asked for, and only those inventory confirms for the order are returned.
        """
        buyer_id = str(buyer.user_id)
        if order_id:
            await self._orders.own_order(buyer, order_id)
        by_order: dict[str, dict[str, Delivery]] = defaultdict(dict)
        for d in await self._deliveries.of_buyer(buyer_id, order_id):
            if d.buyer_id == buyer_id and (not order_id or d.order_id == order_id):
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
        return keys
