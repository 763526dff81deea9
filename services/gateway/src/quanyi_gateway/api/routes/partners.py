"""Partners' signed callbacks: a key was redeemed on the partner's platform."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import grpc
from fastapi import APIRouter, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as fulfillment_pb
from quanyi.inventory.v1 import inventory_service_pb2 as inventory_pb

from quanyi_gateway import security
from quanyi_gateway.api.deps import NoncesDep, PeersDep, SettingsDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.models import RedemptionCreate, RedemptionPublic

router = APIRouter(prefix="/partners", tags=["partners"])

MAX_CALLBACK_BYTES = 16 * 1024


@router.post(
    "/{partner}/redemptions",
    responses=responses(400, 401, 404, 409, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RedemptionCreate.model_json_schema()}},
        }
    },
)
async def record_redemption(
    partner: Annotated[str, Path(max_length=64)],
    request: Request,
    settings: SettingsDep,
    nonces: NoncesDep,
    peers: PeersDep,
    x_partner_signature: Annotated[
        str | None, Header(description="Hex HMAC-SHA256 of timestamp \\n nonce \\n body.")
    ] = None,
    x_partner_timestamp: Annotated[str | None, Header(description="Unix seconds.")] = None,
    x_partner_nonce: Annotated[
        str | None, Header(description="Unique per request, at most 128 chars.")
    ] = None,
) -> RedemptionPublic:
    """Record that a delivered key was redeemed; signed with the partner's HMAC secret, each nonce once."""
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise Problem(413, "the callback is too large", slug="too-large")
    secrets = {p: s.get_secret_value() for p, s in settings.partner_secrets.items()}
    signed = security.PartnerRequest(partner, x_partner_timestamp, x_partner_nonce, x_partner_signature, body)
    try:
        await security.authenticate_partner(
            signed, secrets, nonces, time.time(), settings.partner_signature_skew_s
        )
    except security.PartnerAuthError as exc:
        if exc.failure is security.PartnerAuthFailure.REPLAY:
            raise Problem(409, str(exc), slug="replayed-nonce") from None
        raise Problem(401, str(exc), slug="bad-signature") from None
    try:
        report = RedemptionCreate.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None

    try:
        found = await peers.inventory.FindKey(inventory_pb.FindKeyRequest(code=report.code))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            raise Problem(404, "no key has this code", slug="unknown-key") from None
        raise
    redeemed_at = (report.redeemed_at or datetime.now(UTC)).astimezone(UTC).isoformat()
    reply = await peers.fulfillment.RecordRedemption(
        fulfillment_pb.RecordRedemptionRequest(key_id=found.key_id, partner=partner, redeemed_at=redeemed_at)
    )
    return RedemptionPublic(
        key_id=found.key_id,
        order_id=reply.delivery.order_id or found.order_id,
        redeemed_at=reply.delivery.redeemed_at or redeemed_at,
        duplicate=reply.duplicate,
    )
