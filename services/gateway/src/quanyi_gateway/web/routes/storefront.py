"""The storefront: the catalogue with live stock, sign-up and sign-in, checkout, and the order page that
shows delivery as it happens (a fragment polled by app.js)."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from quanyi_gateway.api.deps import Resources, client_ip
from quanyi_gateway.api.routes import psp_sim as psp_sim_routes
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.checkout import OrderLine, PlaceOrder
from quanyi_gateway.application.errors import BadCredentials, EmailTaken, OrderNotFound, UnknownSku
from quanyi_gateway.application.limits import RateLimited
from quanyi_gateway.application.model import Order, User
from quanyi_gateway.application.refund_requests import REASONS, REFUNDABLE, RefundRequests
from quanyi_gateway.models import Money, SimulatedPaymentCreate, TokenCreate, UserCreate
from quanyi_gateway.web import i18n
from quanyi_gateway.web.render import page, web
from quanyi_gateway.web.session import (
    SESSION_COOKIE,
    CsrfProtected,
    SessionUser,
    WebError,
    WebUser,
    new_nonce,
    safe_next,
)

router = APIRouter(include_in_schema=False)

CATALOGUE_PAGE = 200
MAX_QUANTITY = 20
# Order states a page keeps watching; any other is where the order rests.
MOVING = frozenset({"PENDING_PAYMENT", "CAPTURED", "PAID", "UNDER_REVIEW"})
# What a form on the order page may report back (?done=...): a message id each.
DONE = frozenset({"refund-requested", "resent", "resend-failed"})


def resources(request: Request) -> Resources:
    found: Resources = request.app.state.resources
    return found


def refund_requests(request: Request) -> RefundRequests:
    found: RefundRequests = request.app.state.refund_requests
    return found


def seeother(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/")
async def catalogue(request: Request, user: SessionUser) -> HTMLResponse:
    """The catalogue: every SKU on sale with its price and stock, refreshed while the page is open."""
    listing = await resources(request).catalogue.page(CATALOGUE_PAGE, None)
    return page(request, "catalogue.html", user, skus=listing.items, request_id=new_nonce())


@router.get("/catalogue/stock")
async def stock(request: Request) -> JSONResponse:
    """{sku_id: keys available now} for the catalogue page's live stock."""
    listing = await resources(request).catalogue.page(CATALOGUE_PAGE, None)
    available = {s.sku.sku_id: s.available for s in listing.items}
    return JSONResponse(available, headers={"Cache-Control": "no-store"})


@router.post("/lang", dependencies=[CsrfProtected])
async def choose_language(
    request: Request, lang: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    response = seeother(safe_next(next))
    if lang in i18n.LANGUAGES:
        web(request).cookies.set_language(response, lang)
    return response


@router.get("/login")
async def login_form(request: Request, user: SessionUser, next: str = "/") -> Response:
    return page(request, "login.html", user, next=safe_next(next), email="", error=None)


def _signed_in(request: Request, token: str, ttl_s: int, next_path: str) -> Response:
    response = seeother(safe_next(next_path))
    w = web(request)
    w.cookies.set_session(response, token, ttl_s)
    # A new CSRF nonce with the new session: a token learnt before sign-in is worth nothing after it.
    w.cookies.set_csrf_nonce(response, new_nonce())
    return response


@router.post("/login", dependencies=[CsrfProtected])
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Sign in with the accounts use case (its limits and lock-outs included) and hold the token in the
    session cookie."""
    error, status = "auth.bad_credentials", 401
    retry_after: dict[str, str] = {}
    try:
        body = TokenCreate(email=email, password=password)
        issued = await resources(request).accounts.sign_in(body.email, body.password, client_ip(request))
        return _signed_in(request, issued.token, issued.expires_in, next)
    except (ValidationError, BadCredentials):
        pass
    except RateLimited as exc:
        error, status, retry_after = "error.rate_limited", 429, {"Retry-After": str(exc.retry_after_s)}
    return page(
        request, "login.html", None, status_code=status, headers=retry_after,
        next=safe_next(next), email=email[:254], error=error,
    )


@router.get("/signup")
async def signup_form(request: Request, user: SessionUser, next: str = "/") -> Response:
    return page(request, "signup.html", user, next=safe_next(next), email="", error=None)


@router.post("/signup", dependencies=[CsrfProtected])
async def signup(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Create a buyer account (the accounts use case, as POST /v1/auth/register), then sign in."""
    accounts = resources(request).accounts
    ip = client_ip(request)
    error, status = "auth.invalid_signup", 422
    try:
        body = UserCreate(email=email, password=password)
        await accounts.register(body.email, body.password, ip)
        issued = await accounts.sign_in(body.email, body.password, ip)
        return _signed_in(request, issued.token, issued.expires_in, next)
    except ValidationError:
        pass
    except EmailTaken:
        error, status = "auth.email_taken", 409
    except RateLimited:
        error, status = "error.rate_limited", 429
    return page(
        request, "signup.html", None, status_code=status, next=safe_next(next), email=email[:254], error=error
    )


@router.post("/logout", dependencies=[CsrfProtected])
async def logout(request: Request) -> Response:
    """Revoke the session's token (refused everywhere from now on) and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await resources(request).accounts.sign_out(token)
    response = seeother("/")
    web(request).cookies.clear_session(response)
    return response


@router.post("/checkout", dependencies=[CsrfProtected])
async def checkout(
    request: Request,
    user: WebUser,
    sku_id: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
    request_id: Annotated[str, Form(min_length=16, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
    quantity: Annotated[int, Form(ge=1, le=MAX_QUANTITY)] = 1,
    coupon_code: Annotated[str, Form(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> Response:
    """Place an order (the checkout use case, as POST /v1/orders). The page's request id is the
    idempotency key: a form sent twice places one order. A coupon the order cannot take refuses it with the
    reason (409)."""
    r = resources(request)
    try:
        await r.limits.check("checkout", ip=client_ip(request), account=str(user.user_id),
                             buyer_id=str(user.user_id))
        placed = await r.checkout.place(PlaceOrder(
            buyer=user, lines=(OrderLine(sku_id, quantity),), idempotency_key=f"web:{request_id}",
            client_ip=client_ip(request) or "",  # orders caps unpaid orders' stock holds per address
            coupon_code=coupon_code.strip(),
        ))
    except RateLimited as exc:
        raise WebError(429, "error.rate_limited", exc.retry_after_s) from None
    except UnknownSku:
        raise WebError(404, "error.unknown_sku") from None
    except grpc.aio.AioRpcError as exc:
        # A refusal says why (a stock hold: "0 available, 1 asked"; the caps on unpaid orders), as the API's
        # 409 does.
        raise rpc_error(exc, with_reason=True) from None
    return seeother(f"/orders/{placed.order.order_id}")


def rpc_error(exc: grpc.aio.AioRpcError, with_reason: bool = False) -> WebError:
    code = exc.code()
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
        return WebError(409, "error.refused", detail=(exc.details() or "")[:300] if with_reason else "")
    if code == grpc.StatusCode.NOT_FOUND:
        return WebError(404, "error.not_found")
    return WebError(503, "error.unavailable", 2)


async def buyers_order(request: Request, user: User, order_id: str) -> Order:
    """The user's own order; anyone else's is a 404, like one that does not exist."""
    try:
        order: Order = await resources(request).orders.buyers_own(user, order_id)
    except OrderNotFound:
        raise WebError(404, "error.order_not_found") from None
    return order


async def _order_view(request: Request, user: User, order_id: str) -> dict[str, Any]:
    r = resources(request)
    order = await buyers_order(request, user, order_id)
    keys = await r.keys.delivered(user, order_id)
    names = await sku_names(request, [i.sku_id for i in order.items])
    refund_request = await refund_requests(request).of_order(user, order)
    return {
        "order": order, "keys": keys, "names": names, "moving": order.status in MOVING,
        "refund_request": refund_request, "refundable": order.status in REFUNDABLE,
        "reasons": REASONS, "channels": ("sms", "webhook", "activation"),
    }


async def sku_names(request: Request, sku_ids: list[str]) -> dict[str, str]:
    try:
        skus = await resources(request).catalogue.prices(list(dict.fromkeys(sku_ids)))
    except UnknownSku:
        return {}
    return {sku_id: s.name for sku_id, s in skus.items()}


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: PathId, user: WebUser, done: str = "") -> Response:
    """An order: its state and keys, updated without a reload until it rests; refund request and resend."""
    view = await _order_view(request, user, order_id)
    steps = await resources(request).keys.channel_history(user, order_id)
    return page(request, "order.html", user, done=done if done in DONE else "", steps=steps, **view)


@router.get("/orders/{order_id}/live")
async def order_live(request: Request, order_id: PathId, user: WebUser) -> Response:
    """The order page's live part, polled by app.js (it stops when the fragment says data-live-done)."""
    view = await _order_view(request, user, order_id)
    return page(request, "_order_live.html", user, **view)


@router.post("/orders/{order_id}/pay", dependencies=[CsrfProtected])
async def pay_with_simulator(request: Request, order_id: PathId, user: WebUser) -> Response:
    """Development only: pay the order through the payment simulator, which sends the provider's signed
    notice to the gateway's webhook exactly as `POST /psp-sim/v1/pay` does."""
    r = resources(request)
    if not r.settings.simulators_active or r.psp_key is None:
        raise WebError(404, "error.not_found")
    order = await buyers_order(request, user, order_id)
    if order.status == "PENDING_PAYMENT":
        body = SimulatedPaymentCreate(
            order_id=order.order_id,
            amount=Money(amount_minor=order.total.amount_minor, currency=order.total.currency),
        )
        await psp_sim_routes.pay(body, request, r)
    return seeother(f"/orders/{order.order_id}")
