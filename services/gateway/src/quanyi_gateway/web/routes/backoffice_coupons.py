"""The back office's coupons: the list with each coupon's uses, a form to create one, and disable buttons.

Pages pass through to orders' coupon calls as the admin API does (`coupons:read` to see, `coupons:write` to
change); orders decides everything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import grpc
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.api.routes.admin_coupons import coupon_public, coupon_request
from quanyi_gateway.application.model import User
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import CouponCreate, Money
from quanyi_gateway.web import paging
from quanyi_gateway.web.routes.backoffice import _admin_page, _back, _resources, _rpc_error, allowed
from quanyi_gateway.web.session import CsrfProtected, WebError

router = APIRouter(prefix="/admin", include_in_schema=False)

COUPONS_PAGE = 50
Code = Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/coupons")
async def coupons(
    request: Request,
    user: Annotated[User, allowed(P.COUPONS_READ)],
    page_token: paging.PageToken = "",
    back: paging.Back = None,
) -> HTMLResponse:
    """The coupons, newest first, a page at a time (next and previous links over orders' keyset pages)."""
    try:
        reply = await _resources(request).peers.orders.ListCoupons(
            orders_pb.ListCouponsRequest(limit=COUPONS_PAGE, page_token=page_token)
        )
    except grpc.aio.AioRpcError as exc:
        raise paging.token_refused(exc) or _rpc_error(exc) from None
    return _admin_page(
        request, "admin/coupons.html", user, coupons=[coupon_public(c) for c in reply.coupons],
        done=request.query_params.get("done", ""), created=request.query_params.get("code", ""),
        pager=paging.pager("/admin/coupons", {}, page_token, back or [], reply.next_page_token),
    )


def _time(text: str) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@router.post("/coupons", dependencies=[CsrfProtected])
async def create_coupon(
    request: Request,
    user: Annotated[User, allowed(P.COUPONS_WRITE)],
    code: Code,
    kind: Annotated[str, Form(pattern=r"^(fixed|percent)$")],
    off: Annotated[int, Form(ge=1, le=10**12)],
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")] = "CNY",
    max_discount: Annotated[int, Form(ge=0, le=10**12)] = 0,
    min_order: Annotated[int, Form(ge=0, le=10**12)] = 0,
    sku_ids: Annotated[str, Form(max_length=2000)] = "",
    valid_from: Annotated[str, Form(max_length=40)] = "",
    expires_at: Annotated[str, Form(max_length=40)] = "",
    total_cap: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    per_buyer_cap: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    """`off` is fen for a fixed coupon and basis points for a percent one; times are ISO 8601 (UTC if
    no zone); SKUs comma-separated."""
    try:
        body = CouponCreate(
            code=code, kind=kind,  # type: ignore[arg-type]
            amount_off=Money(amount_minor=off, currency=currency) if kind == "fixed" else None,
            percent_off_bps=off if kind == "percent" else 0,
            max_discount=Money(amount_minor=max_discount, currency=currency) if max_discount else None,
            min_order=Money(amount_minor=min_order, currency=currency) if min_order else None,
            sku_ids=[s.strip() for s in sku_ids.split(",") if s.strip()],
            valid_from=_time(valid_from), expires_at=_time(expires_at), total_cap=total_cap,
            per_buyer_cap=per_buyer_cap,
        )
    except (ValueError, ValidationError):
        raise WebError(400, "admin.coupons.bad") from None
    try:
        reply = await _resources(request).peers.orders.CreateCoupon(
            orders_pb.CreateCouponRequest(coupon=coupon_request(body), actor=user.actor)
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/coupons?done=coupon&code={reply.coupon.code}")


@router.post("/coupons/{code}/disable", dependencies=[CsrfProtected])
async def disable_coupon(
    request: Request, user: Annotated[User, allowed(P.COUPONS_WRITE)], code: str
) -> Response:
    try:
        reply = await _resources(request).peers.orders.DisableCoupon(
            orders_pb.DisableCouponRequest(code=code, actor=user.actor)
        )
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    return _back(f"/admin/coupons?done=coupon_disabled&code={reply.coupon.code}")
