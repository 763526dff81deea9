"""Refund requests: a buyer asks for their paid order's money back; operators see what was asked and
refund through POST /v1/admin/orders/{id}/refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from quanyi_gateway.api.deps import Allowed, CurrentUser, JsonBody
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.routes.orders import order_not_found
from quanyi_gateway.api.validation import CursorQuery, PathId
from quanyi_gateway.application.errors import NotRefundable, OrderNotFound
from quanyi_gateway.application.model import RefundRequest
from quanyi_gateway.application.refund_requests import Reason, RefundRequests
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import CursorPage, Input

router = APIRouter(tags=["refund requests"], responses=responses(401, 503))


def get_refund_requests(request: Request) -> RefundRequests:
    found: RefundRequests = request.app.state.refund_requests
    return found


RefundRequestsDep = Annotated[RefundRequests, Depends(get_refund_requests)]


class RefundRequestCreate(Input):
    """Why the buyer wants their money back."""

    reason: Reason = Field(description="not_received, not_working, wrong_item, changed_mind or other")


class RefundRequestPublic(BaseModel):
    request_id: str
    order_id: str
    buyer_id: str
    reason: str
    requested_at: str = Field(description="RFC 3339, UTC")


class BuyersRefundRequest(RefundRequestPublic):
    """A buyer's request with where it stands, read from the order's refunds in orders."""

    state: str = Field(
        description="requested (no operator has acted yet), processing (a refund is on its way), refunded "
        "(the provider confirmed it) or declined (an operator declined it; the money stays with the sale)"
    )


def public(r: RefundRequest) -> RefundRequestPublic:
    return RefundRequestPublic(
        request_id=r.request_id, order_id=r.order_id, buyer_id=r.buyer_id, reason=r.reason,
        requested_at=r.requested_at.isoformat(),
    )


def buyers(r: RefundRequest) -> BuyersRefundRequest:
    return BuyersRefundRequest(**public(r).model_dump(), state=r.state)


def not_refundable(exc: NotRefundable) -> Problem:
    return Problem(409, f"the order is {exc.status}: there is nothing to refund", slug="not-refundable")


@router.post(
    "/me/orders/{order_id}/refund-requests",
    status_code=201,
    dependencies=[JsonBody],
    responses={200: {"description": "The earlier request, unchanged"}, **responses(404, 409, 415, 422)},
)
async def request_refund(
    order_id: PathId, body: RefundRequestCreate, user: CurrentUser, requests: RefundRequestsDep,
    response: Response,
) -> BuyersRefundRequest:
    """Ask for a refund of your paid order; an operator decides. Asking again returns the first request
    (200)."""
    try:
        asked, new = await requests.request(user, order_id, body.reason)
    except OrderNotFound:
        raise order_not_found() from None
    except NotRefundable as exc:
        raise not_refundable(exc) from None
    if not new:
        response.status_code = 200
    return buyers(asked)


@router.get("/me/refund-requests", responses=responses(422))
async def my_refund_requests(
    user: CurrentUser,
    requests: RefundRequestsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = "",
) -> CursorPage[BuyersRefundRequest]:
    """Your refund requests, newest first, a page at a time (pass `next_cursor` as `cursor`), each with
    where it stands (requested, processing, refunded or declined)."""
    found = await requests.of_buyer(user, limit, cursor)
    return CursorPage(items=[buyers(r) for r in found.items], next_cursor=found.next_cursor or None)


@router.get("/admin/refund-requests", dependencies=[Allowed(P.ORDERS_READ)], responses=responses(403, 422))
async def list_refund_requests(
    requests: RefundRequestsDep, limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: CursorQuery = ""
) -> CursorPage[RefundRequestPublic]:
    """Buyers' refund requests, newest first, a page at a time (pass `next_cursor` as `cursor`)."""
    found = await requests.latest(limit, cursor)
    return CursorPage(items=[public(r) for r in found.items], next_cursor=found.next_cursor or None)
