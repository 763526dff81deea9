"""Buyers' orders. A buyer sees only their own; another's order answers 404, as if it did not exist."""

from __future__ import annotations

from datetime import datetime

import grpc
from fastapi import APIRouter, Request, Response

from quanyi_gateway.api import presenters
from quanyi_gateway.api.deps import (
    CheckoutDep,
    CurrentUser,
    IdempotencyDep,
    IdempotencyKey,
    JsonBody,
    OrderQueriesDep,
    SettingsDep,
    client_ip,
    rate_limited,
)
from quanyi_gateway.api.problems import Problem, from_rpc_error, problem_response, responses
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.checkout import OrderLine, PlaceOrder
from quanyi_gateway.application.errors import OrderNotFound, UnknownSku
from quanyi_gateway.application.idempotency import (
    IdempotencyInProgress,
    IdempotencyMismatch,
    StoredResponse,
)
from quanyi_gateway.application.idempotency import fingerprint as idempotency_fingerprint
from quanyi_gateway.models import OrderCreate, OrderPublic

router = APIRouter(prefix="/orders", tags=["orders"], responses=responses(401, 503))


def order_not_found() -> Problem:
    return Problem(404, "no such order", slug="order-not-found")


@router.post(
    "",
    status_code=201,
    dependencies=[JsonBody, rate_limited("checkout")],
    response_model=OrderPublic,
    responses={
        201: {
            "description": "The order; a retry with the same Idempotency-Key and body gets the same bytes, "
            "with the header Idempotent-Replayed: true.",
            "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}},
        },
        **responses(400, 404, 409, 415, 422, 429),
    },
)
async def place_order(
    request: Request,
    user: CurrentUser,
    idempotency_key: IdempotencyKey,
    body: OrderCreate,
    checkout: CheckoutDep,
    idempotency: IdempotencyDep,
    settings: SettingsDep,
) -> Response:
    """Place an order at the catalogue's current prices. The Idempotency-Key makes it safe to retry: the
    same key and body replay the first response byte for byte for 24 hours; the same key with another
    body is a 422; concurrent requests with one key place one order."""
    path = request.url.path

    async def execute(generation: datetime) -> StoredResponse:
        command = PlaceOrder(
            buyer=user,
            lines=tuple(OrderLine(i.sku_id, i.quantity) for i in body.items),
            # A key reused after it expired is a new key for the orders service too.
            idempotency_key=f"{idempotency_key}@{generation.timestamp():.6f}",
            client_ip=client_ip(request) or "",
            coupon_code=body.coupon_code or "",
        )
        try:
            placed = await checkout.place(command)
        except UnknownSku as exc:
            problem = Problem(404, f"unknown SKU {exc.sku_id}", title="Unknown SKU", slug="unknown-sku")
            return stored(problem_response(problem, path))
        except grpc.aio.AioRpcError as exc:
            return stored(problem_response(from_rpc_error(exc, settings.retry_after_s), path))
        public = presenters.order(placed.order, with_payment=True)
        return StoredResponse(201, "application/json", public.model_dump_json().encode())

    fingerprint = idempotency_fingerprint("POST", path, body.model_dump_json().encode())
    try:
        answer, replayed = await idempotency.run(str(user.user_id), idempotency_key, fingerprint, execute)
    except IdempotencyMismatch:
        raise Problem(
            422,
            "this Idempotency-Key was used with a different request; use a new key for a new order",
            slug="idempotency-key-reused",
        ) from None
    except IdempotencyInProgress:
        raise Problem(
            409,
            "a request with this Idempotency-Key is still in progress; retry shortly",
            slug="idempotency-key-in-use",
            headers={"Retry-After": str(settings.retry_after_s)},
        ) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type, headers=headers)


def stored(response: Response) -> StoredResponse:
    """A response as the idempotency store keeps it."""
    media_type = response.media_type or "application/json"
    return StoredResponse(response.status_code, media_type, bytes(response.body))


@router.get("/{order_id}", responses=responses(404))
async def get_order(
    order_id: PathId, user: CurrentUser, orders: OrderQueriesDep
) -> OrderPublic:
    """One of the buyer's orders."""
    try:
        return presenters.order(await orders.own_order(user, order_id))
    except OrderNotFound:
        raise order_not_found() from None
