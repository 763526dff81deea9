"""The signed-in buyer's own orders and keys."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Response
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.api.deps import CurrentUser, PeersDep
from quanyi_gateway.api.problems import responses
from quanyi_gateway.api.routes.orders import own_order
from quanyi_gateway.models import DeliveredKeyPublic, OrderPublic

router = APIRouter(prefix="/me", tags=["me"], responses=responses(401, 404, 503))


@router.get("/orders")
async def my_orders(
    user: CurrentUser, peers: PeersDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[OrderPublic]:
    """The buyer's orders, newest first."""
    reply = await peers.orders.ListOrders(
        orders_pb.ListOrdersRequest(buyer_id=str(user.user_id), limit=limit)
    )
    return [mappers.order(o) for o in reply.orders if o.buyer_id == str(user.user_id)]


@router.get("/keys")
async def my_keys(
    user: CurrentUser,
    peers: PeersDep,
    response: Response,
    order_id: Annotated[str, Query(max_length=64)] = "",
) -> list[DeliveredKeyPublic]:
    """The buyer's delivered keys in plaintext (every reveal is audited); never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    buyer_id = str(user.user_id)
    if order_id:
        await own_order(peers, user, order_id)  # someone else's order is a 404, like a missing one
    listed = await peers.fulfillment.ListDeliveries(
        fulfillment_pb.ListDeliveriesRequest(buyer_id=buyer_id, order_id=order_id)
    )
    by_order: dict[str, dict[str, fulfillment_pb.Delivery]] = defaultdict(dict)
    for d in listed.deliveries:
        if d.buyer_id == buyer_id and (not order_id or d.order_id == order_id):
            by_order[d.order_id][d.key_id] = d
    orders = list(by_order)
    revealed = await asyncio.gather(
        *(
            peers.inventory.RevealKeys(
                inventory_pb.RevealKeysRequest(
                    order_id=o, key_ids=list(by_order[o]), actor=f"buyer:{buyer_id}", purpose="user-center"
                )
            )
            for o in orders
        )
    )
    keys = []
    for o, reply in zip(orders, revealed, strict=True):
        for k in reply.keys:
            delivery = by_order[o].get(k.key_id)
            if delivery is None:
                continue
            keys.append(
                DeliveredKeyPublic(
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
