"""Buyers' orders. A buyer sees only their own; another's order answers 404, as if it did not exist."""

from __future__ import annotations

import asyncio
from typing import Annotated

import grpc
from fastapi import APIRouter, Path, Response
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.adapters import mappers
from quanyi_gateway.adapters.peers import Peers
from quanyi_gateway.adapters.users import User
from quanyi_gateway.api.deps import CurrentUser, IdempotencyKey, JsonBody, PeersDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.models import OrderCreate, OrderPublic

router = APIRouter(prefix="/orders", tags=["orders"], responses=responses(401, 503))


def order_not_found() -> Problem:
    return Problem(404, "no such order", slug="order-not-found")


async def _price(peers: Peers, sku_id: str) -> inventory_pb.Sku:
    try:
        reply: inventory_pb.GetSkuResponse = await peers.inventory.GetSku(
            inventory_pb.GetSkuRequest(sku_id=sku_id)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise Problem(404, f"unknown SKU {sku_id}", title="Unknown SKU", slug="unknown-sku") from None
        raise
    return reply.sku


async def own_order(peers: Peers, user: User, order_id: str) -> orders_pb.Order:
    """The order when the user may see it (their own, or any for an admin); 404 otherwise."""
    try:
        reply: orders_pb.GetOrderResponse = await peers.orders.GetOrder(
            orders_pb.GetOrderRequest(order_id=order_id)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise order_not_found() from None
        raise
    if reply.order.buyer_id != str(user.user_id) and not user.is_admin:
        raise order_not_found()
    return reply.order


@router.post(
    "",
    status_code=201,
    dependencies=[JsonBody],
    responses={
        200: {"model": OrderPublic, "description": "The order placed earlier with this Idempotency-Key."},
        **responses(400, 404, 409, 415, 422, 429),
    },
)
async def place_order(
    user: CurrentUser, idempotency_key: IdempotencyKey, body: OrderCreate, peers: PeersDep, response: Response
) -> OrderPublic:
    """Place an order at the catalogue's current prices; a retry with the same Idempotency-Key returns it."""
    sku_ids = list(dict.fromkeys(item.sku_id for item in body.items))
    skus = dict(zip(sku_ids, await asyncio.gather(*(_price(peers, s) for s in sku_ids)), strict=True))
    reply = await peers.orders.PlaceOrder(
        orders_pb.PlaceOrderRequest(
            buyer_id=str(user.user_id),
            buyer_email=user.email,
            channel=body.channel,
            idempotency_key=idempotency_key,
            items=[
                orders_pb.OrderItem(sku_id=i.sku_id, quantity=i.quantity, unit_price=skus[i.sku_id].price)
                for i in body.items
            ],
        )
    )
    if reply.replayed:
        response.status_code = 200
    return mappers.order(reply.order, with_payment=True)


@router.get("/{order_id}", responses=responses(404))
async def get_order(
    order_id: Annotated[str, Path(max_length=64)], user: CurrentUser, peers: PeersDep
) -> OrderPublic:
    """One of the buyer's orders."""
    return mappers.order(await own_order(peers, user, order_id))
