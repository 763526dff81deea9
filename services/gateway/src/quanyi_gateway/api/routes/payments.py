"""Payment providers' webhooks. Orders verifies the provider's signature; the gateway forwards verbatim."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Header, Request
from quanyi.orders.v1 import orders_service_pb2 as orders_pb

from quanyi_gateway.api.deps import PeersDep, SettingsDep
from quanyi_gateway.api.problems import Problem, from_rpc_error, responses
from quanyi_gateway.api.validation import PathName
from quanyi_gateway.models import PaymentNoticeAck

router = APIRouter(prefix="/payments", tags=["payments"])

MAX_NOTICE_BYTES = 64 * 1024

_NOTICE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "description": "The provider's notice."}}},
}


@router.post(
    "/{provider}/notify",
    responses=responses(400, 401, 404, 409, 413, 503),
    openapi_extra={"requestBody": _NOTICE_BODY},
)
async def payment_notice(
    provider: PathName,
    request: Request,
    peers: PeersDep,
    settings: SettingsDep,
    x_psp_signature: Annotated[str | None, Header()] = None,
    x_psp_timestamp: Annotated[str | None, Header()] = None,
    x_psp_nonce: Annotated[str | None, Header()] = None,
    x_psp_serial: Annotated[str | None, Header()] = None,
    wechatpay_signature: Annotated[str | None, Header()] = None,
    wechatpay_timestamp: Annotated[str | None, Header()] = None,
    wechatpay_nonce: Annotated[str | None, Header()] = None,
    wechatpay_serial: Annotated[str | None, Header()] = None,
) -> PaymentNoticeAck:
    """Receive a signed payment notice; answers SUCCESS for a new or an already applied notice.

    WeChat Pay style notices sign with Wechatpay-* headers (the first simulator with X-Psp-*); Alipay
    style notices are forms that carry their own signature."""
    signature = x_psp_signature or wechatpay_signature
    timestamp = x_psp_timestamp or wechatpay_timestamp
    nonce = x_psp_nonce or wechatpay_nonce
    serial = x_psp_serial or wechatpay_serial
    signed_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if not signed_form and not signature:
        raise Problem(401, "the X-Psp-Signature header is missing", slug="bad-signature")
    if not signed_form and (not timestamp or not nonce):
        raise Problem(
            400, "the X-Psp-Timestamp and X-Psp-Nonce headers are required", slug="malformed-notice"
        )
    body = await request.body()
    if len(body) > MAX_NOTICE_BYTES:
        raise Problem(413, "the notice is too large", slug="too-large")
    try:
        await peers.orders.HandlePaymentNotice(
            orders_pb.HandlePaymentNoticeRequest(
                provider=provider,
                body=body,
                signature=signature or "",
                timestamp=timestamp or "",
                nonce=nonce or "",
                serial=serial or "",
            )
        )
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc, settings.retry_after_s, invalid_argument_status=400) from None
    return PaymentNoticeAck()
