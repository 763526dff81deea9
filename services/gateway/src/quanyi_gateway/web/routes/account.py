"""The buyer's user centre: every order and key with its state and history, reveal on click (audited by
inventory, through the same use case as GET /v1/me/keys), copy, resend on another channel."""

from __future__ import annotations

from collections import defaultdict

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from quanyi_gateway.api.deps import client_ip
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.application.limits import RateLimited
from quanyi_gateway.application.model import Delivery
from quanyi_gateway.web.render import page
from quanyi_gateway.web.routes.storefront import _rpc_error, _sku_names, resources
from quanyi_gateway.web.session import CsrfProtected, WebError, WebUser

router = APIRouter(include_in_schema=False)

MY_ORDERS = 200


@router.get("/me")
async def user_centre(request: Request, user: WebUser) -> Response:
    """Everything the buyer bought, newest first: each order with its keys, their state and history."""
    r = resources(request)
    orders = await r.orders.my_orders(user, MY_ORDERS)
    keys_by_order: dict[str, list[Delivery]] = defaultdict(list)
    for d in await r.keys.delivered(user):
        keys_by_order[d.order_id].append(d)
    sku_ids = [i.sku_id for o in orders for i in o.items]
    sku_ids += [d.sku_id for ds in keys_by_order.values() for d in ds]
    names = await _sku_names(request, sku_ids)
    return page(request, "me.html", user, orders=orders, keys_by_order=keys_by_order, names=names)


@router.get("/me/keys/{key_id}")
async def key_page(request: Request, key_id: PathId, user: WebUser) -> Response:
    """One key of the buyer's: its order, state and history. Anyone else's key is a 404."""
    r = resources(request)
    found = [d for d in await r.keys.delivered(user) if d.key_id == key_id]
    if not found:
        raise WebError(404, "error.key_not_found")
    key = found[0]
    names = await _sku_names(request, [key.sku_id])
    return page(request, "key.html", user, key=key, names=names)


@router.post("/me/orders/{order_id}/keys/{key_id}/reveal", dependencies=[CsrfProtected])
async def reveal(request: Request, order_id: PathId, key_id: PathId, user: WebUser) -> Response:
    """One key in plaintext, for the page's script (never cached). Rate-limited and audited like
    GET /v1/me/keys: inventory records who revealed it, when and for which order."""
    r = resources(request)
    try:
        await r.limits.check("reveal", ip=client_ip(request), account=str(user.user_id),
                             buyer_id=str(user.user_id))
        await r.orders.buyers_own(user, order_id)
        revealed = await r.keys.reveal(user, order_id, key_id)
    except RateLimited as exc:
        raise WebError(429, "error.rate_limited", exc.retry_after_s) from None
    except OrderNotFound:
        raise WebError(404, "error.key_not_found") from None
    except grpc.aio.AioRpcError as exc:
        raise _rpc_error(exc) from None
    if not revealed:
        raise WebError(404, "error.key_not_found")
    key = revealed[0]
    return JSONResponse(
        {"key_id": key.key_id, "code": key.code, "password": key.password},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
