"""Payment providers as orders sees them: their notices (verified for real) and their query and refund
APIs, over HTTP with aiohttp.

- `wechatpay-sim` speaks WeChat Pay API v3 (quanyi_platform.psp.wechatpay): notices signed with the
  platform key and their resource AES-256-GCM encrypted with the API v3 key; every API response's
  signature is verified too before it is believed.
- `alipay-sim` speaks Alipay's open API (quanyi_platform.psp.alipay): form notices and JSON responses
  signed RSA2.
- `psp-sim`, the first simulator's plain signed JSON notice (adapters.psp_signature), is still accepted;
  its payments are queried and refunded through the WeChat-style API, which the simulator serves for
  every payment it made.

The port they implement, `PaymentProvider`, is in application.providers.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa
from quanyi_platform.psp import alipay, wechatpay

from quanyi_orders.adapters.psp_notice import MalformedNotice
from quanyi_orders.adapters.psp_signature import NoticeRejected
from quanyi_orders.application.orders import PaymentNotice
from quanyi_orders.application.providers import PaymentProvider, ProviderUnavailable, RawNotice
from quanyi_orders.application.saga import RefundOutcome
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.refund import Refund

__all__ = ["Alipay", "PaymentProvider", "ProviderUnavailable", "RawNotice", "WechatPay"]


def _fresh(timestamp: str, max_skew_s: int) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise NoticeRejected("bad timestamp") from None
    if abs(time.time() - sent) > max_skew_s:
        raise NoticeRejected("notice timestamp out of range")


class WechatPay(PaymentProvider):
    """WeChat Pay API v3 (see the module's docstring); `base_url` is the API's root."""

    def __init__(
        self, name: str, public_key: rsa.RSAPublicKey, api_v3_key: bytes, base_url: str,
        http: aiohttp.ClientSession | None, max_skew_s: int = 300,
    ) -> None:
        self.name = name
        self._key = public_key
        self._api_v3_key = api_v3_key
        self._base = base_url.rstrip("/")
        self._http = http
        self._max_skew_s = max_skew_s

    def open_notice(self, raw: RawNotice) -> PaymentNotice | RefundOutcome:
        headers = {wechatpay.TIMESTAMP: raw.timestamp, wechatpay.NONCE: raw.nonce,
                   wechatpay.SIGNATURE: raw.signature}
        try:
            notice = wechatpay.open_notice(self._key, self._api_v3_key, headers, raw.body)
        except wechatpay.Rejected as exc:
            raise NoticeRejected(str(exc)) from None
        _fresh(raw.timestamp, self._max_skew_s)
        r = notice.resource
        try:
            if notice.event_type == "TRANSACTION.SUCCESS" and r["trade_state"] == "SUCCESS":
                return PaymentNotice(self.name, raw.nonce, notice.notice_id, str(r["out_trade_no"]),
                                     str(r["transaction_id"]), _wx_amount(r["amount"]))
            if notice.event_type == "REFUND.SUCCESS" and r["refund_status"] == "SUCCESS":
                amount = r["amount"]
                return RefundOutcome(str(r["out_refund_no"]), "SUCCESS", True, str(r["refund_id"]),
                                     Money(int(amount["refund"]), str(amount.get("currency", "CNY"))))
        except (KeyError, TypeError, ValueError):
            raise MalformedNotice("the notice's resource lacks a field") from None
        raise MalformedNotice(f"notices of type {notice.event_type} are not handled")

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        if self._http is None or not self._base:
            raise ProviderUnavailable("no API address configured")
        data = json.dumps(body).encode() if body is not None else None
        try:
            async with self._http.request(method, self._base + path, data=data,
                                          headers={"Content-Type": "application/json"}) as reply:
                raw = await reply.read()
                status = reply.status
                h = reply.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if status >= 500:
            raise ProviderUnavailable(f"HTTP {status}")
        try:
            wechatpay.verify(self._key, h.get(wechatpay.TIMESTAMP, ""), h.get(wechatpay.NONCE, ""), raw,
                             h.get(wechatpay.SIGNATURE, ""))
            return status, json.loads(raw)
        except (wechatpay.Rejected, ValueError):
            raise ProviderUnavailable("the response is not the platform's") from None

    async def query_payment(self, order_id: str) -> PaymentNotice | None:
        status, doc = await self._call("GET", f"/v3/pay/transactions/out-trade-no/{order_id}")
        if status == 404 or doc.get("trade_state") != "SUCCESS":
            return None
        txn = str(doc["transaction_id"])
        return PaymentNotice(self.name, f"query:{txn}", "query", order_id, txn, _wx_amount(doc["amount"]))

    async def refund(self, refund: Refund) -> RefundOutcome:
        status, doc = await self._call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": refund.order_id, "transaction_id": refund.txn_id,
            "out_refund_no": refund.refund_id, "reason": refund.reason.value,
            "amount": {"refund": refund.amount.minor_units, "currency": refund.amount.currency},
        })
        if status >= 400:
            return RefundOutcome(refund.refund_id, str(doc.get("code", f"HTTP {status}")))
        state = str(doc.get("status", ""))
        if state == "SUCCESS":
            amount = doc.get("amount", {})
            return RefundOutcome(refund.refund_id, state, True, str(doc.get("refund_id", "")),
                                 Money(int(amount.get("refund", refund.amount.minor_units)),
                                       str(amount.get("currency", refund.amount.currency))))
        return RefundOutcome(refund.refund_id, state or "UNKNOWN")


def _wx_amount(amount: dict[str, Any]) -> Money:
    return Money(int(amount["total"]), str(amount.get("currency", "CNY")))


class Alipay(PaymentProvider):
    """Alipay's open API (see the module's docstring); `gateway_url` is its gateway.do address."""

    def __init__(
        self, name: str, public_key: rsa.RSAPublicKey, gateway_url: str, http: aiohttp.ClientSession | None,
        currency: str = "CNY",
    ) -> None:
        self.name = name
        self._key = public_key
        self._url = gateway_url
        self._http = http
        self._currency = currency

    def open_notice(self, raw: RawNotice) -> PaymentNotice | RefundOutcome:
        try:
            params = dict(parse_qsl(raw.body.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise MalformedNotice("the notice is not form-encoded") from None
        try:
            alipay.verify_params(self._key, params)
        except alipay.Rejected as exc:
            raise NoticeRejected(str(exc)) from None
        if params.get("trade_status") not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            raise MalformedNotice("only paid trades are handled")
        try:
            amount = Money(alipay.fen(params["total_amount"]), self._currency)
            return PaymentNotice(self.name, params["notify_id"], params["notify_id"], params["out_trade_no"],
                                 params["trade_no"], amount)
        except (KeyError, alipay.Rejected):
            raise MalformedNotice("the notice lacks a field") from None

    async def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        if self._http is None or not self._url:
            raise ProviderUnavailable("no API address configured")
        form = {"method": method, "charset": "utf-8", "sign_type": "RSA2", "version": "1.0",
                "biz_content": json.dumps(biz, separators=(",", ":"))}
        try:
            async with self._http.post(self._url, data=form) as reply:
                raw = await reply.read()
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if status >= 500:
            raise ProviderUnavailable(f"HTTP {status}")
        try:
            return alipay.open_response(self._key, method, raw)
        except alipay.Rejected:
            raise ProviderUnavailable("the response is not Alipay's") from None

    async def query_payment(self, order_id: str) -> PaymentNotice | None:
        doc = await self._call("alipay.trade.query", {"out_trade_no": order_id})
        if doc.get("code") != "10000" or doc.get("trade_status") not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return None
        txn = str(doc["trade_no"])
        amount = Money(alipay.fen(str(doc["total_amount"])), self._currency)
        return PaymentNotice(self.name, f"query:{txn}", "query", order_id, txn, amount)

    async def refund(self, refund: Refund) -> RefundOutcome:
        doc = await self._call("alipay.trade.refund", {
            "out_trade_no": refund.order_id, "trade_no": refund.txn_id, "out_request_no": refund.refund_id,
            "refund_amount": alipay.yuan(refund.amount.minor_units),
        })
        if doc.get("code") == "10000" and doc.get("fund_change") == "Y":
            # Alipay refunds at once; its refund_fee is the trade's total refunded so far, not this refund's.
            provider_refund_id = f"{doc.get('trade_no', '')}:{refund.refund_id}"
            return RefundOutcome(refund.refund_id, "SUCCESS", True, provider_refund_id, refund.amount)
        return RefundOutcome(refund.refund_id, str(doc.get("sub_code") or doc.get("code") or "UNKNOWN"))
