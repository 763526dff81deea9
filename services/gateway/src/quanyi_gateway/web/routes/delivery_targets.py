"""The buyer's kept delivery targets in the user centre: list, keep one per channel, forget one — the
use case of /v1/me/delivery-targets (application.delivery_targets), with its checks of each target."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from quanyi_gateway.application.delivery_targets import (
    CHANNELS,
    BuyerGone,
    DeliveryTargets,
    InvalidTarget,
)
from quanyi_gateway.application.model import User
from quanyi_gateway.web.render import page
from quanyi_gateway.web.session import CsrfProtected, WebError, WebUser

router = APIRouter(include_in_schema=False)

PATH = "/me/delivery-targets"
# What a form reports back (?done=...): a message id each.
DONE = frozenset({"kept", "forgotten"})


def _targets(request: Request) -> DeliveryTargets:
    found: DeliveryTargets = request.app.state.delivery_targets
    return found


def _buyer(user: User) -> User:
    """Only a buyer keeps targets (as the API: an operator gets 403)."""
    if user.is_admin:
        raise WebError(403, "error.forbidden")
    return user


async def _page(
    request: Request,
    user: User,
    *,
    done: str = "",
    error_channel: str = "",
    channel: str = "",
    target: str = "",
    status_code: int = 200,
) -> Response:
    kept = await _targets(request).mine(user.user_id)
    return page(
        request,
        "delivery_targets.html",
        user,
        status_code=status_code,
        kept=kept,
        channels=CHANNELS,
        done=done if done in DONE else "",
        error_channel=error_channel,
        channel=channel or CHANNELS[0],
        target=target,
    )


@router.get(PATH)
async def delivery_targets(request: Request, user: WebUser, done: str = "") -> Response:
    """The channels the buyer's keys also go to on every delivery, with forms to keep and forget them."""
    return await _page(request, _buyer(user), done=done)


@router.post(PATH, dependencies=[CsrfProtected])
async def keep_target(
    request: Request,
    user: WebUser,
    channel: Annotated[str, Form(max_length=32)] = "",
    target: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Keep one channel's target (replacing the one kept before); one that does not fit its channel is
    shown again with what fits (422), and nothing changes."""
    buyer = _buyer(user)
    if channel not in CHANNELS:
        raise WebError(422, "targets.bad_channel")
    try:
        await _targets(request).set_one(buyer.user_id, channel, target)
    except InvalidTarget:
        return await _page(
            request, buyer, error_channel=channel, channel=channel, target=target, status_code=422
        )
    except BuyerGone:
        raise WebError(401, "targets.account_gone") from None
    return RedirectResponse(f"{PATH}?done=kept", status_code=303)


@router.post(PATH + "/{channel}/forget", dependencies=[CsrfProtected])
async def forget_target(request: Request, channel: str, user: WebUser) -> Response:
    """Forget one channel's target (its next deliveries go to the user centre and e-mail only)."""
    buyer = _buyer(user)
    if channel not in CHANNELS:
        raise WebError(404, "error.not_found")
    await _targets(request).forget(buyer.user_id, channel)
    return RedirectResponse(f"{PATH}?done=forgotten", status_code=303)
