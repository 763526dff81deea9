"""Coupons: operations (and owners) define and disable them; finance and read-only operators list them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from quanyi.common.v1 import money_pb2
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.api.deps import AdminUser, Allowed, JsonBody, PeersDep, get_current_admin
from quanyi_gateway.api.problems import responses
from quanyi_gateway.api.validation import CursorQuery
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import CouponCreate, CouponPublic, CouponsPublic, Money

router = APIRouter(
    prefix="/admin/coupons",
    tags=["admin"],
    dependencies=[Depends(get_current_admin)],
    responses=responses(401, 403, 503),
)


def _money_pb(m: Money | None) -> money_pb2.Money | None:
    return money_pb2.Money(minor_units=m.amount_minor, currency=m.currency) if m is not None else None


def _money(c: orders_pb.Coupon, field: str) -> Money | None:
    if not c.HasField(field):
        return None
    m: money_pb2.Money = getattr(c, field)
    return Money(amount_minor=m.minor_units, currency=m.currency)


def coupon_public(c: orders_pb.Coupon) -> CouponPublic:
    return CouponPublic(
        code=c.code, kind=c.kind.lower(), amount_off=_money(c, "amount_off"),
        percent_off_bps=c.percent_off_bps, max_discount=_money(c, "max_discount"),
        min_order=_money(c, "min_order"), sku_ids=list(c.sku_ids), valid_from=c.valid_from,
        expires_at=c.expires_at, total_cap=c.total_cap, per_buyer_cap=c.per_buyer_cap,
        disabled=c.disabled, uses=c.uses, created_at=c.created_at, created_by=c.created_by,
    )


def coupon_request(body: CouponCreate) -> orders_pb.Coupon:
    return orders_pb.Coupon(
        code=body.code, kind=body.kind.upper(), amount_off=_money_pb(body.amount_off),
        percent_off_bps=body.percent_off_bps, max_discount=_money_pb(body.max_discount),
        min_order=_money_pb(body.min_order), sku_ids=body.sku_ids,
        valid_from=body.valid_from.isoformat() if body.valid_from else "",
        expires_at=body.expires_at.isoformat() if body.expires_at else "",
        total_cap=body.total_cap, per_buyer_cap=body.per_buyer_cap,
    )


@router.post(
    "", status_code=201, dependencies=[Allowed(P.COUPONS_WRITE), JsonBody],
    responses=responses(400, 409, 415, 422),
)
async def create_coupon(body: CouponCreate, admin: AdminUser, peers: PeersDep) -> CouponPublic:
    """Define a coupon; a code taken already (compared case-insensitively) is a 409."""
    reply = await peers.orders.CreateCoupon(
        orders_pb.CreateCouponRequest(coupon=coupon_request(body), actor=admin.actor)
    )
    return coupon_public(reply.coupon)


@router.get("", dependencies=[Allowed(P.COUPONS_READ)], responses=responses(400, 422))
async def list_coupons(
    peers: PeersDep, limit: Annotated[int, Query(ge=0, le=200)] = 0, cursor: CursorQuery = ""
) -> CouponsPublic:
    """The coupons, newest first, a page at a time (0: 50; pass `next_cursor` as `cursor`), with how many
    orders hold a use of each now."""
    reply = await peers.orders.ListCoupons(orders_pb.ListCouponsRequest(limit=limit, page_token=cursor))
    return CouponsPublic(
        coupons=[coupon_public(c) for c in reply.coupons], next_cursor=reply.next_page_token or None
    )


@router.post(
    "/{code}/disable", dependencies=[Allowed(P.COUPONS_WRITE)], responses=responses(400, 404, 422),
)
async def disable_coupon(code: str, admin: AdminUser, peers: PeersDep) -> CouponPublic:
    """Disable a coupon: orders placed from now on cannot apply it (those placed keep their discount)."""
    reply = await peers.orders.DisableCoupon(orders_pb.DisableCouponRequest(code=code, actor=admin.actor))
    return coupon_public(reply.coupon)
