"""Resends on another channel: a buyer's for their own order, an operator's re-drive after a channel gave up.

Both pass through to fulfillment's DeliverOnChannel, which delivers now (with its own retries) and records
ChannelRequested, then ChannelDelivered or DeliveryFailed. The target (a webhook URL, a phone number or the
buyer's account on the partner platform) is personal data: it goes to fulfillment for this call only and is
stored and logged nowhere. A buyer's webhook URL must be https to a name that is not local (no loopback,
private or link-local address), so a resend cannot be aimed at quanyi's own network.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb

from quanyi_gateway.api.deps import (
    AdminUser,
    Allowed,
    CurrentUser,
    JsonBody,
    OrderQueriesDep,
    PeersDep,
    rate_limited,
)
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.routes.orders import order_not_found
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.errors import OrderNotFound
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import Input

router = APIRouter(tags=["deliveries"], responses=responses(401, 503))

DELIVER_TIMEOUT_S = 180.0
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_:.-]{16,256}$")


class ChannelDeliveryCreate(Input):
    """Where to send an order's keys again."""

    channel: Literal["webhook", "sms", "activation", "app"] = Field(
        description="webhook (a signed POST), sms, activation (a top-up of your account on the partner"
        " platform), or app (a push to your device telling it the keys are in the app)"
    )
    target: str = Field(
        min_length=1, max_length=2048,
        description="The webhook's URL, the phone number in E.164 (+8613800138000), the partner account, or"
        " the device's push token",
    )

    @model_validator(mode="after")
    def _target_fits_channel(self) -> ChannelDeliveryCreate:
        if self.channel == "sms" and not _E164.match(self.target):
            raise ValueError("an sms target is a phone number in E.164 form, such as +8613800138000")
        if self.channel == "activation" and not _ACCOUNT.match(self.target):
            raise ValueError("an activation target is the account on the partner platform")
        if self.channel == "app" and not _DEVICE.match(self.target):
            raise ValueError("an app target is the device's push token")
        if self.channel == "webhook":
            url = urlsplit(self.target)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("a webhook target is an http(s) URL")
        return self


class ChannelDeliveryPublic(BaseModel):
    delivered: bool = Field(description="True when the channel delivered the keys")
    attempts: int = Field(description="Attempts the channel made (with backoff between them)")
    reason: str = Field(description="Why not, when not delivered")


def _local_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def _buyer_target_allowed(body: ChannelDeliveryCreate) -> None:
    if body.channel != "webhook":
        return
    url = urlsplit(body.target)
    if url.scheme != "https" or _local_host(url.hostname or ""):
        raise Problem(422, "a webhook target must be an https URL to a public host", slug="invalid-target")


async def _deliver(
    peers: PeersDep, order_id: str, body: ChannelDeliveryCreate, requested_by: str
) -> ChannelDeliveryPublic:
    # The channel retries with backoff for up to fulfillment's QUANYI_CHANNEL_TOTAL_S (per post); wait for it.
    reply = await peers.fulfillment.DeliverOnChannel(fulfillment_pb.DeliverOnChannelRequest(
        order_id=order_id, channel=body.channel, target=body.target, requested_by=requested_by,
    ), timeout=DELIVER_TIMEOUT_S)
    return ChannelDeliveryPublic(delivered=reply.delivered, attempts=reply.attempts, reason=reply.reason)


@router.post(
    "/me/orders/{order_id}/deliveries",
    dependencies=[JsonBody, rate_limited("reveal")],
    responses=responses(400, 404, 415, 422, 429),
)
async def resend_my_order(
    order_id: PathId, body: ChannelDeliveryCreate, user: CurrentUser, orders: OrderQueriesDep, peers: PeersDep
) -> ChannelDeliveryPublic:
    """Send your order's keys again on another channel. The answer says whether that channel delivered;
    the keys stay in your user centre either way."""
    try:
        order = await orders.own_order(user, order_id)
    except OrderNotFound:
        raise order_not_found() from None  # someone else's order is a 404, like a missing one
    if order.buyer_id != str(user.user_id):
        raise order_not_found()
    _buyer_target_allowed(body)
    return await _deliver(peers, order_id, body, f"buyer:{user.user_id}")


@router.post(
    "/admin/orders/{order_id}/deliveries",
    dependencies=[Allowed(P.DELIVERIES), JsonBody],
    responses=responses(400, 403, 404, 415, 422),
)
async def redeliver_order(
    order_id: PathId, body: ChannelDeliveryCreate, admin: AdminUser, peers: PeersDep
) -> ChannelDeliveryPublic:
    """Deliver an order's keys on a channel now: a re-drive after a channel gave up (the exception queue),
    or a switch of channel. Recorded with the operator."""
    return await _deliver(peers, order_id, body, admin.actor)
