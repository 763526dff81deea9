"""Buyers' orders. A buyer sees only their own; another's order answers 404, as if it did not exist."""

from __future__ import annotations

from fastapi import APIRouter, Response

from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import CheckoutDep, CurrentUser, IdempotencyKey, JsonBody, OrderQueriesDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.checkout import STOREFRONT_CHANNEL, OrderLine, PlaceOrder
from quanyi_gateway.application.errors import OrderNotFound, UnknownSku
from quanyi_gateway.models import OrderCreate, OrderPublic

router = APIRouter(prefix="/orders", tags=["orders"], responses=responses(401, 503))


def order_not_found() -> Problem:
    return Problem(404, "no such order", slug="order-not-found")


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
    user: CurrentUser,
    idempotency_key: IdempotencyKey,
    body: OrderCreate,
    checkout: CheckoutDep,
    response: Response,
) -> OrderPublic:
    """Place an order at the catalogue's current prices; a retry with the same Idempotency-Key returns it."""
    command = PlaceOrder(
        buyer=user,
        lines=tuple(OrderLine(i.sku_id, i.quantity) for i in body.items),
        idempotency_key=idempotency_key,
        channel=STOREFRONT_CHANNEL,
    )
    try:
        placed = await checkout.place(command)
    except UnknownSku as exc:
        raise Problem(404, f"unknown SKU {exc.sku_id}", title="Unknown SKU", slug="unknown-sku") from None
    if placed.replayed:
        response.status_code = 200
    return presenters.order(placed.order, with_payment=True)


@router.get("/{order_id}", responses=responses(404))
async def get_order(
    order_id: PathId, user: CurrentUser, orders: OrderQueriesDep
) -> OrderPublic:
    """One of the buyer's orders."""
    try:
        return presenters.order(await orders.own_order(user, order_id))
    except OrderNotFound:
        raise order_not_found() from None
