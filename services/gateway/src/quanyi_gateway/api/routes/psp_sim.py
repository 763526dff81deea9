"""The payment providers' simulators (development and tests): they pay an order by sending a signed
notice, and serve the providers' query and refund APIs, signing every answer as the provider would
(quanyi_gateway.psp_sim.ProviderSimulator)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

import aiohttp
from fastapi import APIRouter, Form, Request, Response
from quanyi_platform.psp import DEV_API_V3_KEY

from quanyi_gateway import psp_sim
from quanyi_gateway.api.deps import JsonBody, ResourcesDep
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.models import SimulatedNoticePublic, SimulatedPaymentCreate, SimulatedPaymentPublic

log = logging.getLogger(__name__)

router = APIRouter(prefix="/psp-sim/v1", tags=["psp-sim"])

# Refund notices follow the refund API's answer, as the provider's do.
REFUND_NOTICE_DELAY_S = 0.05


def simulator(request: Request, resources: ResourcesDep) -> psp_sim.ProviderSimulator:
    """The process's simulator state (payments made, refunds taken), made on first use."""
    state = request.app.state
    sim: psp_sim.ProviderSimulator | None = getattr(state, "psp_simulator", None)
    if sim is None:
        assert resources.psp_key is not None
        sim = psp_sim.ProviderSimulator(
            resources.psp_key, resources.settings.psp_sim_key_serial, DEV_API_V3_KEY.encode()
        )
        state.psp_simulator = sim
    return sim


def _webhook(resources: ResourcesDep, provider: str) -> str:
    return f"{resources.settings.public_base_url}/v1/payments/{provider}/notify"


async def _post(resources: ResourcesDep, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    assert resources.psp_http is not None
    async with resources.psp_http.post(url, data=body, headers=headers) as reply:
        return reply.status, await reply.text()


@router.post("/pay", responses=responses(400, 415, 422, 502), dependencies=[JsonBody])
async def pay(
    body: SimulatedPaymentCreate, request: Request, resources: ResourcesDep
) -> SimulatedPaymentPublic:
    """Pay an order: the provider takes the money and POSTs its signed notice to the gateway's webhook
    (unless `deliver` is false: a lost callback), and reports the webhook's answer."""
    settings = resources.settings
    assert resources.psp_key is not None and resources.psp_http is not None
    sim = simulator(request, resources)
    amount, currency = body.amount.amount_minor, body.amount.currency
    notice = psp_sim.signed_notice(resources.psp_key, settings.psp_sim_key_serial, body.order_id, amount,
                                   currency)
    if body.provider == psp_sim.PROVIDER:
        trade = sim.pay(psp_sim.PROVIDER, body.order_id, amount, currency, notice.txn_id)
        notice_id = notice.notice_id
    else:
        trade = sim.pay(body.provider, body.order_id, amount, currency)
        notice_id = ""
    if not body.deliver:
        return SimulatedPaymentPublic(
            notice_id=notice_id, txn_id=trade.txn_id, webhook_status=0, webhook_response=None
        )
    url = _webhook(resources, body.provider)
    try:
        if body.provider == psp_sim.PROVIDER:
            status, text = await psp_sim.deliver(
                resources.psp_http, url, resources.psp_key, settings.psp_sim_key_serial, notice
            )
        elif body.provider == psp_sim.WECHATPAY:
            raw, headers = sim.wechat_notice("TRANSACTION.SUCCESS", sim.wechat_transaction(trade))
            notice_id = json.loads(raw)["id"]
            status, text = await _post(resources, url, raw, headers)
        else:
            form = sim.alipay_notice(trade)
            status, text = await _post(
                resources, url, form, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("psp-sim: webhook unreachable", extra={"url": url, "error": type(exc).__name__})
        raise Problem(502, "the webhook could not be reached", slug="webhook-unreachable") from None
    try:
        answer: Any = json.loads(text)
    except ValueError:
        answer = text
    return SimulatedPaymentPublic(
        notice_id=notice_id, txn_id=trade.txn_id, webhook_status=status, webhook_response=answer
    )


@router.post("/notices", responses=responses(400, 415, 422), dependencies=[JsonBody])
async def notice(
    body: SimulatedPaymentCreate, request: Request, resources: ResourcesDep
) -> SimulatedNoticePublic:
    """Take a payment and build its signed SUCCESS notice without sending it, to replay or tamper with in
    tests (the first simulator's notice, or with provider "wechatpay-sim" WeChat Pay's)."""
    assert resources.psp_key is not None
    if body.provider == psp_sim.WECHATPAY:
        sim = simulator(request, resources)
        trade = sim.pay(body.provider, body.order_id, body.amount.amount_minor, body.amount.currency)
        raw, headers = sim.wechat_notice("TRANSACTION.SUCCESS", sim.wechat_transaction(trade))
        return SimulatedNoticePublic(notice_id=json.loads(raw)["id"], txn_id=trade.txn_id, body=raw.decode(),
                                     headers=headers)
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


# -- WeChat Pay v3's API --------------------------------------------------------------------------


def _wechat(sim: psp_sim.ProviderSimulator, doc: dict[str, Any], status: int = 200) -> Response:
    body, headers = sim.wechat_signed(doc)
    return Response(body, status_code=status, headers=headers)


@router.get("/wechatpay/v3/pay/transactions/out-trade-no/{out_trade_no}", include_in_schema=False)
async def wechat_query(out_trade_no: str, request: Request, resources: ResourcesDep) -> Response:
    """WeChat Pay's query of an order's transaction, signed."""
    sim = simulator(request, resources)
    trade = sim.trade_of_order(out_trade_no)
    if trade is None:
        return _wechat(sim, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, 404)
    return _wechat(sim, sim.wechat_transaction(trade))


@router.post("/wechatpay/v3/refund/domestic/refunds", include_in_schema=False)
async def wechat_refund(request: Request, resources: ResourcesDep) -> Response:
    """WeChat Pay's refund API: PROCESSING now, a REFUND.SUCCESS notice to the webhook just after;
    the same out_refund_no again refunds nothing more."""
    sim = simulator(request, resources)
    try:
        doc = json.loads(await request.body())
        amount = int(doc["amount"]["refund"])
        out_refund_no, order_id = str(doc["out_refund_no"]), str(doc["out_trade_no"])
        txn_id = str(doc.get("transaction_id", ""))
    except (ValueError, KeyError, TypeError):
        return _wechat(sim, {"code": "PARAM_ERROR", "message": "参数错误"}, 400)
    try:
        fresh = out_refund_no not in sim.refunds
        refund = sim.refund(out_refund_no, txn_id, order_id, amount)
    except psp_sim.RefundRefused as exc:
        return _wechat(sim, {"code": str(exc), "message": "退款失败"}, 400)
    if fresh:
        task = asyncio.create_task(_refund_notice(resources, sim, refund))
        request.app.state.__dict__.setdefault("psp_tasks", set()).add(task)
        task.add_done_callback(request.app.state.psp_tasks.discard)
    return _wechat(sim, sim.wechat_refund_doc(refund))


async def _refund_notice(
    resources: ResourcesDep, sim: psp_sim.ProviderSimulator, refund: psp_sim.SimRefund
) -> None:
    await asyncio.sleep(REFUND_NOTICE_DELAY_S)
    refund.status = "SUCCESS"
    raw, headers = sim.wechat_notice("REFUND.SUCCESS", sim.wechat_refund_doc(refund))
    for _ in range(3):
        try:
            status, _text = await _post(resources, _webhook(resources, psp_sim.WECHATPAY), raw, headers)
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.sleep(0.5)
            continue
        if status < 500:
            return
        await asyncio.sleep(0.5)
    log.warning("psp-sim: refund notice not delivered", extra={"refund": refund.out_refund_no})


# -- Alipay's open API ----------------------------------------------------------------------------


@router.post("/alipay/gateway.do", include_in_schema=False)
async def alipay_gateway(
    method: Annotated[str, Form()], biz_content: Annotated[str, Form()], request: Request,
    resources: ResourcesDep,
) -> Response:
    """Alipay's gateway: alipay.trade.query and alipay.trade.refund (which refunds at once), signed RSA2."""
    sim = simulator(request, resources)
    try:
        biz = json.loads(biz_content)
    except ValueError:
        biz = {}
    body = sim.alipay_call(method, biz if isinstance(biz, dict) else {})
    return Response(body, media_type="application/json; charset=utf-8")
