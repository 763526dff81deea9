"""The buyer's user centre: every order and key with its state and history, reveal on click (audited by
inventory, through the same use case as GET /v1/me/keys), copy, resend on another channel."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, cast

import grpc
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from quanyi_gateway.api.deps import client_ip
from quanyi_gateway.api.problems import Problem
from quanyi_gateway.api.routes.deliveries import ChannelDeliveryCreate
from quanyi_gateway.api.routes.deliveries import _buyer_target_allowed as buyer_target_allowed
from quanyi_gateway.api.routes.deliveries import _deliver as deliver_on_channel
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.errors import NotRefundable, OrderNotFound
from quanyi_gateway.application.limits import RateLimited
from quanyi_gateway.application.model import OwnedKey
from quanyi_gateway.application.refund_requests import REASONS, Reason
from quanyi_gateway.web import paging
from quanyi_gateway.web.render import page
from quanyi_gateway.web.routes.storefront import refund_requests, resources, rpc_error, sku_names
from quanyi_gateway.web.session import CsrfProtected, WebError, WebUser

router = APIRouter(include_in_schema=False)

MY_ORDERS = 20


@router.get("/me")
async def user_centre(
    request: Request,
    user: WebUser,
    page_token: paging.PageToken = "",
    back: paging.Back = None,
    limit: Annotated[int, Query(ge=1, le=50)] = MY_ORDERS,
) -> Response:
    """Everything the buyer bought, newest first, a page of orders at a time (next and previous links over
    orders' keyset pages): each order with its keys, their state and history."""
    r = resources(request)
    try:
        listed = await r.orders.my_orders(user, limit, page_token)
    except grpc.aio.AioRpcError as exc:
        raise paging.token_refused(exc) or rpc_error(exc) from None
    orders = list(listed.items)
    keys_by_order: dict[str, list[OwnedKey]] = defaultdict(list)
    for d in await r.keys.delivered(user, order_ids=[o.order_id for o in orders]):
        keys_by_order[d.order_id].append(d)
    sku_ids = [i.sku_id for o in orders for i in o.items]
    sku_ids += [d.sku_id for ds in keys_by_order.values() for d in ds]
    names = await sku_names(request, sku_ids)
    asked = await refund_requests(request).of_orders(user, orders)
    histories = await r.keys.channel_histories(user, orders)
    entitled = await r.keys.entitlements(user)
    return page(
        request, "me.html", user, orders=orders, keys_by_order=keys_by_order, names=names, asked=asked,
        histories=histories, entitled=entitled,
        pager=paging.pager(
            "/me", {"limit": "" if limit == MY_ORDERS else str(limit)}, page_token, back or [],
            listed.next_cursor,
        ),
    )


@router.get("/me/keys/{key_id}")
async def key_page(request: Request, key_id: PathId, user: WebUser) -> Response:
    """One key of the buyer's: its order, state and history. Anyone else's key is a 404."""
    r = resources(request)
    key = await r.keys.owned_key(user, key_id)
    if key is None:
        raise WebError(404, "error.key_not_found")
    names = await sku_names(request, [key.sku_id])
    steps = await r.keys.channel_history(user, key.order_id)
    return page(request, "key.html", user, key=key, names=names, steps=steps)


@router.post("/me/orders/{order_id}/keys/{key_id}/reveal", dependencies=[CsrfProtected])
async def reveal(request: Request, order_id: PathId, key_id: PathId, user: WebUser) -> Response:
    """One key in plaintext, for the page's script (never cached). Rate-limited and audited like
    GET /v1/me/keys: inventory records who revealed it, when and for which order."""
    r = resources(request)
    try:
        await r.limits.check("reveal", ip=client_ip(request), account=str(user.user_id),
                             buyer_id=str(user.user_id))
        await r.orders.buyers_own(user, order_id)
        revealed = (await r.keys.reveal(user, order_id, key_id)).items
    except RateLimited as exc:
        raise WebError(429, "error.rate_limited", exc.retry_after_s) from None
    except OrderNotFound:
        raise WebError(404, "error.key_not_found") from None
    except grpc.aio.AioRpcError as exc:
        raise rpc_error(exc) from None
    if not revealed:
        raise WebError(404, "error.key_not_found")
    key = revealed[0]
    return JSONResponse(
        {"key_id": key.key_id, "code": key.code, "password": key.password},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.post("/me/orders/{order_id}/refund-request", dependencies=[CsrfProtected])
async def request_refund(
    request: Request, order_id: PathId, user: WebUser, reason: Annotated[str, Form()] = "other"
) -> Response:
    """Ask for a refund (the use case of POST /v1/me/orders/{id}/refund-requests); an operator decides."""
    if reason not in REASONS:
        raise WebError(422, "refund.bad_reason")
    try:
        await refund_requests(request).request(user, order_id, cast(Reason, reason))
    except OrderNotFound:
        raise WebError(404, "error.order_not_found") from None
    except NotRefundable:
        raise WebError(409, "refund.not_refundable") from None
    return RedirectResponse(f"/orders/{order_id}?done=refund-requested#actions", status_code=303)


@router.post("/me/orders/{order_id}/resend", dependencies=[CsrfProtected])
async def resend(
    request: Request,
    order_id: PathId,
    user: WebUser,
    channel: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
) -> Response:
    """Send the order's keys again on another channel (as POST /v1/me/orders/{id}/deliveries): the same
    checks of the target, then fulfillment's DeliverOnChannel. The target is kept nowhere."""
    r = resources(request)
    try:
        body = ChannelDeliveryCreate.model_validate({"channel": channel, "target": target})
        buyer_target_allowed(body)
    except (ValidationError, Problem):
        raise WebError(422, "resend.bad_target") from None
    try:
        await r.limits.check("reveal", ip=client_ip(request), account=str(user.user_id),
                             buyer_id=str(user.user_id))
        await r.orders.buyers_own(user, order_id)
        outcome = await deliver_on_channel(r.peers, order_id, body, f"buyer:{user.user_id}")
    except RateLimited as exc:
        raise WebError(429, "error.rate_limited", exc.retry_after_s) from None
    except OrderNotFound:
        raise WebError(404, "error.order_not_found") from None
    except grpc.aio.AioRpcError as exc:
        raise rpc_error(exc) from None
    done = "resent" if outcome.delivered else "resend-failed"
    return RedirectResponse(f"/orders/{order_id}?done={done}#actions", status_code=303)
