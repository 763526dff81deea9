"""The buyer's own orders and keys (the user centre)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import CurrentUser, MyKeysDep, OrderQueriesDep, rate_limited
from quanyi_gateway.api.problems import responses
from quanyi_gateway.api.routes.orders import order_not_found
from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.models import DeliveredKeyPublic, OrderPublic

router = APIRouter(prefix="/me", tags=["me"], responses=responses(401, 404, 503))


@router.get("/orders")
async def my_orders(
    user: CurrentUser, orders: OrderQueriesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[OrderPublic]:
    """The buyer's orders, newest first."""
    return [presenters.order(o) for o in await orders.my_orders(user, limit)]


@router.get("/keys", dependencies=[rate_limited("reveal")], responses=responses(429))
async def my_keys(
    user: CurrentUser,
    keys: MyKeysDep,
    response: Response,
    order_id: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")] = "",
) -> list[DeliveredKeyPublic]:
    """The buyer's delivered keys in plaintext (every reveal is audited); never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    try:
        revealed = await keys.reveal(user, order_id)
    except OrderNotFound:
        raise order_not_found() from None  # someone else's order is a 404, like a missing one
    return [presenters.delivered_key(k) for k in revealed]
