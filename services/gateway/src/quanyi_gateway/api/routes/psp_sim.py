"""The payment-provider simulator (development and tests): pays an order by sending a signed notice."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from fastapi import APIRouter

from quanyi_gateway import psp_sim
from quanyi_gateway.api.deps import JsonBody, ResourcesDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.models import SimulatedNoticePublic, SimulatedPaymentCreate, SimulatedPaymentPublic

log = logging.getLogger(__name__)

router = APIRouter(prefix="/psp-sim/v1", tags=["psp-sim"], dependencies=[JsonBody])


@router.post("/pay", responses=responses(400, 415, 422, 502))
async def pay(body: SimulatedPaymentCreate, resources: ResourcesDep) -> SimulatedPaymentPublic:
    """Pay an order: POST a signed SUCCESS notice to the gateway's webhook and report its answer."""
    settings = resources.settings
    assert resources.psp_key is not None and resources.psp_http is not None
    notice = psp_sim.signed_notice(
        resources.psp_key,
        settings.psp_sim_key_serial,
        body.order_id,
        body.amount.amount_minor,
        body.amount.currency,
    )
    url = f"{settings.public_base_url}/v1/payments/{psp_sim.PROVIDER}/notify"
    try:
        status, text = await psp_sim.deliver(
            resources.psp_http, url, resources.psp_key, settings.psp_sim_key_serial, notice
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("psp-sim: webhook unreachable", extra={"url": url, "error": type(exc).__name__})
        raise Problem(502, "the webhook could not be reached", slug="webhook-unreachable") from None
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text
    return SimulatedPaymentPublic(
        notice_id=notice.notice_id,
        txn_id=notice.txn_id,
        webhook_status=status,
        webhook_response=answer,
    )


@router.post("/notices", responses=responses(400, 415, 422))
async def notice(body: SimulatedPaymentCreate, resources: ResourcesDep) -> SimulatedNoticePublic:
    """Build and sign a SUCCESS notice without sending it, to replay or tamper with in tests."""
    assert resources.psp_key is not None
    signed = psp_sim.signed_notice(
        resources.psp_key,
        resources.settings.psp_sim_key_serial,
        body.order_id,
        body.amount.amount_minor,
        body.amount.currency,
    )
    return SimulatedNoticePublic(
        notice_id=signed.notice_id, txn_id=signed.txn_id, body=signed.body.decode(), headers=signed.headers
    )
