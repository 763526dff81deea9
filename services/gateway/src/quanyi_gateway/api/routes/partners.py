"""Partners' signed callbacks: a key was redeemed on the partner's platform."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from quanyi_gateway import security
from quanyi_gateway.api.deps import RedemptionsDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import PathName
from quanyi_gateway.application.errors import UnknownKey
from quanyi_gateway.application.redemptions import RecordRedemption
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
    partner: PathName,
    request: Request,
    redemptions: RedemptionsDep,
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
    signed = security.PartnerRequest(partner, x_partner_timestamp, x_partner_nonce, x_partner_signature, body)
    try:
        await redemptions.authenticate(signed)
    except security.PartnerAuthError as exc:
        if exc.failure is security.PartnerAuthFailure.REPLAY:
            raise Problem(409, str(exc), slug="replayed-nonce") from None
        raise Problem(401, str(exc), slug="bad-signature") from None
    try:
        report = RedemptionCreate.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None
    try:
        recorded = await redemptions.record(RecordRedemption(partner, report.code, report.redeemed_at))
    except UnknownKey:
        raise Problem(404, "no key has this code", slug="unknown-key") from None
    return RedemptionPublic(
        key_id=recorded.key_id,
        order_id=recorded.order_id,
        redeemed_at=recorded.redeemed_at,
        duplicate=recorded.duplicate,
    )
