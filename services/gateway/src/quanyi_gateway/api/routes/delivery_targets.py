"""The buyer's kept delivery targets (GET/PUT/DELETE /v1/me/delivery-targets): where their keys also go on
every delivery, besides the user centre and the e-mail. Only the buyer's own; an operator keeps none."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from quanyi_gateway.api.deps import CurrentUser, JsonBody
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.delivery_targets import (
    BuyerGone,
    DeliveryTarget,
    DeliveryTargets,
    InvalidTarget,
)
from quanyi_gateway.application.model import User
from quanyi_gateway.models import Input

router = APIRouter(prefix="/me/delivery-targets", tags=["me"], responses=responses(401, 403))

Channel = Literal["webhook", "sms", "activation", "app"]
_TARGET_TEXT = (
    "webhook: an https URL to a public host (a signed POST of the keys); sms: a phone number in E.164"
    " (+8613800138000); activation: your account on the partner platform (topped up with the keys); app:"
    " your device's push token (told the keys are in the app)"
)


def get_delivery_targets(request: Request) -> DeliveryTargets:
    targets: DeliveryTargets = request.app.state.delivery_targets
    return targets


DeliveryTargetsDep = Annotated[DeliveryTargets, Depends(get_delivery_targets)]
ChannelPath = Annotated[Channel, Path(description="The channel")]


class DeliveryTargetPublic(BaseModel):
    """Where your keys also go on one channel, each time an order of yours is delivered."""

    channel: Channel
    target: str = Field(description=_TARGET_TEXT)


class DeliveryTargetCreate(Input):
    """One channel's target."""

    target: str = Field(min_length=1, max_length=2048, description=_TARGET_TEXT)


class DeliveryTargetsReplace(Input):
    """The whole set of your targets, at most one per channel; the channels left out are forgotten."""

    targets: list[DeliveryTargetPublic] = Field(max_length=4)


def _buyer(user: User) -> User:
    if user.is_admin:
        raise Problem(403, "an operator keeps no delivery targets", slug="forbidden")
    return user


def _public(targets: list[DeliveryTarget]) -> list[DeliveryTargetPublic]:
    return [DeliveryTargetPublic(channel=t.channel, target=t.target) for t in targets]  # type: ignore[arg-type]


def _invalid(exc: InvalidTarget) -> Problem:
    return Problem(422, str(exc), slug="invalid-target")


@router.get("")
async def my_delivery_targets(user: CurrentUser, targets: DeliveryTargetsDep) -> list[DeliveryTargetPublic]:
    """The delivery targets you keep, by channel."""
    return _public(await targets.mine(_buyer(user).user_id))


@router.put("", dependencies=[JsonBody], responses=responses(415, 422))
async def replace_my_delivery_targets(
    body: DeliveryTargetsReplace, user: CurrentUser, targets: DeliveryTargetsDep
) -> list[DeliveryTargetPublic]:
    """Keep exactly these delivery targets: each of your orders is then also delivered on these channels."""
    try:
        kept = await targets.replace(_buyer(user).user_id, [(t.channel, t.target) for t in body.targets])
    except InvalidTarget as exc:
        raise _invalid(exc) from None
    except BuyerGone:
        raise Problem(401, "the account no longer exists") from None
    return _public(kept)


@router.delete("", status_code=204)
async def forget_my_delivery_targets(user: CurrentUser, targets: DeliveryTargetsDep) -> Response:
    """Forget every delivery target you keep."""
    await targets.forget(_buyer(user).user_id)
    return Response(status_code=204)


@router.put("/{channel}", dependencies=[JsonBody], responses=responses(415, 422))
async def keep_my_delivery_target(
    channel: ChannelPath, body: DeliveryTargetCreate, user: CurrentUser, targets: DeliveryTargetsDep
) -> DeliveryTargetPublic:
    """Keep one channel's target (replacing the one kept before)."""
    try:
        kept = await targets.set_one(_buyer(user).user_id, channel, body.target)
    except InvalidTarget as exc:
        raise _invalid(exc) from None
    except BuyerGone:
        raise Problem(401, "the account no longer exists") from None
    return _public([kept])[0]


@router.delete("/{channel}", status_code=204, responses=responses(404))
async def forget_my_delivery_target(
    channel: ChannelPath, user: CurrentUser, targets: DeliveryTargetsDep
) -> Response:
    """Forget one channel's target."""
    if not await targets.forget(_buyer(user).user_id, channel):
        raise Problem(404, "no target is kept for this channel", slug="not-found")
    return Response(status_code=204)
