"""The buyer's own orders and keys (the user centre)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import CurrentUser, MyKeysDep, OrderQueriesDep, rate_limited
from quanyi_gateway.api.problems import responses
from quanyi_gateway.api.routes.orders import order_not_found
from quanyi_gateway.api.validation import CursorQuery
from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.models import (
    CursorPage,
    DeliveredKeyPublic,
    MembershipGrantPublic,
    MembershipPublic,
    MyPointsPublic,
    OrderPublic,
    PointsCreditPublic,
)

router = APIRouter(prefix="/me", tags=["me"], responses=responses(401, 404, 503))


@router.get("/orders", responses=responses(422))
async def my_orders(
    user: CurrentUser,
    orders: OrderQueriesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = "",
) -> CursorPage[OrderPublic]:
    """The buyer's orders, newest first, a page at a time (pass `next_cursor` as `cursor`)."""
    found = await orders.my_orders(user, limit, cursor)
    return CursorPage(items=[presenters.order(o) for o in found.items], next_cursor=found.next_cursor or None)


@router.get("/keys", dependencies=[rate_limited("reveal")], responses=responses(422, 429))
async def my_keys(
    user: CurrentUser,
    keys: MyKeysDep,
    response: Response,
    order_id: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQuery = "",
) -> CursorPage[DeliveredKeyPublic]:
    """The buyer's delivered keys in plaintext (every reveal is audited), `limit` delivered orders' keys a
    page, newest delivered first (pass `next_cursor` as `cursor`); one order's when `order_id` is given.
    Never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    try:
        revealed = await keys.reveal(user, order_id, limit=limit, cursor=cursor)
    except OrderNotFound:
        raise order_not_found() from None  # someone else's order is a 404, like a missing one
    return CursorPage(
        items=[presenters.delivered_key(k) for k in revealed.items], next_cursor=revealed.next_cursor or None
    )


@router.get("/points")
async def my_points(user: CurrentUser, keys: MyKeysDep) -> MyPointsPublic:
    """The buyer's points balance from bundles, with each credit and the order it came from."""
    found = await keys.entitlements(user)
    return MyPointsPublic(
        balance=found.points_balance,
        credits=[
            PointsCreditPublic(
                order_id=c.order_id, line_no=c.line_no, unit_no=c.unit_no, points=c.points,
                credited_at=c.credited_at, debited_at=c.debited_at or None,
            )
            for c in found.credits
        ],
    )


@router.get("/memberships")
async def my_memberships(user: CurrentUser, keys: MyKeysDep) -> list[MembershipPublic]:
    """The buyer's memberships from bundles by plan (valid until the end of the last grant; grants of a
    plan stack), each with its grants and the orders they came from."""
    found = await keys.entitlements(user)
    return [
        MembershipPublic(
            plan=m.plan,
            valid_until=m.valid_until,
            grants=[
                MembershipGrantPublic(
                    order_id=g.order_id, line_no=g.line_no, unit_no=g.unit_no, days=g.days,
                    valid_from=g.valid_from, valid_until=g.valid_until, shortened_at=g.shortened_at or None,
                )
                for g in found.grants
                if g.plan == m.plan
            ],
        )
        for m in found.memberships
    ]
