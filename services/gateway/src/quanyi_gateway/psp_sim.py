"""The payment-provider simulator's keys and signed notices.

A notice is signed like a real provider's: base64 RSASSA-PKCS1-v1_5 with SHA-256 over
`timestamp + "\\n" + nonce + "\\n" + body + "\\n"`, sent with X-Psp-Signature, X-Psp-Timestamp,
X-Psp-Nonce and X-Psp-Serial. Orders holds the public key and verifies.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from quanyi_platform.psp import alipay, wechatpay

PROVIDER = "psp-sim"
PAY_PATH = "/psp-sim/v1/pay"
_KEY_BITS = 2048


def new_private_key() -> RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)


def generate_keypair(directory: str | Path) -> tuple[Path, Path]:
    """Write a new key pair as `psp-sim-private.pem` (PKCS#8, mode 0600) and `psp-sim-public.pem` (SPKI)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key = new_private_key()
    private_path = folder / "psp-sim-private.pem"
    public_path = folder / "psp-sim-public.pem"
    private_path.touch(mode=0o600, exist_ok=True)
    private_path.chmod(0o600)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def load_private_key(path: str | Path) -> RSAPrivateKey:
    """Read an unencrypted PEM RSA private key."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def signing_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes a notice's signature covers."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign(key: RSAPrivateKey, timestamp: str, nonce: str, body: bytes) -> str:
    """Base64 PKCS#1 v1.5 SHA-256 signature of the notice."""
    signature = key.sign(signing_message(timestamp, nonce, body), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


@dataclass(frozen=True)
class SignedNotice:
    """A payment notice ready to POST: its exact body and the headers that authenticate it."""

    notice_id: str
    txn_id: str
    body: bytes
    headers: dict[str, str]


def signed_notice(
    key: RSAPrivateKey,
    serial: str,
    order_id: str,
    amount_minor: int,
    currency: str,
    now: float | None = None,
) -> SignedNotice:
    """A successful payment of `amount_minor` `currency` for `order_id`, signed with `key`."""
    notice_id = str(uuid.uuid4())
    txn_id = f"sim-{uuid.uuid4()}"
    body = json.dumps(
        {
            "notice_id": notice_id,
            "order_id": order_id,
            "txn_id": txn_id,
            "status": "SUCCESS",
            "amount": {"minor_units": amount_minor, "currency": currency},
        },
        separators=(",", ":"),
    ).encode()
    headers = notice_headers(key, serial, body, now)
    return SignedNotice(notice_id=notice_id, txn_id=txn_id, body=body, headers=headers)


def notice_headers(key: RSAPrivateKey, serial: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Fresh authentication headers (timestamp, nonce, signature) for a notice body."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    return {
        "Content-Type": "application/json",
        "X-Psp-Signature": sign(key, timestamp, nonce, body),
        "X-Psp-Timestamp": timestamp,
        "X-Psp-Nonce": nonce,
        "X-Psp-Serial": serial,
    }


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    key: RSAPrivateKey,
    serial: str,
    notice: SignedNotice,
    attempts: int = 3,
) -> tuple[int, str]:
    """POST `notice` to the merchant's webhook; returns its status and body.

    Like a real provider, a notice whose connection failed is delivered again, re-signed with a fresh
    nonce (the merchant refuses a nonce it has seen) but with the same notice and transaction ids, so a
    merchant that did get the first one books the payment once. A connection can fail for no fault of
    either side: the merchant closes an idle keep-alive connection just as it is reused.
    Raises aiohttp.ClientError or TimeoutError after the last attempt.
    """
    headers = notice.headers
    for attempt in range(1, attempts + 1):
        try:
            async with session.post(url, data=notice.body, headers=headers) as reply:
                return reply.status, await reply.text()
        except aiohttp.ClientConnectionError:
            if attempt == attempts:
                raise
            headers = notice_headers(key, serial, notice.body)
    raise AssertionError("unreachable")


# -- the providers' simulators: WeChat Pay v3 and Alipay, with query and refund APIs -----------------

WECHATPAY = "wechatpay-sim"
ALIPAY = "alipay-sim"
PROVIDERS = (PROVIDER, WECHATPAY, ALIPAY)


@dataclass
class Trade:
    """A payment the simulator made: `provider`'s transaction `txn_id` for the merchant's order."""

    provider: str
    order_id: str
    txn_id: str
    amount_minor: int
    currency: str
    paid_at: str
    refunded_minor: int = 0


@dataclass
class SimRefund:
    refund_id: str
    out_refund_no: str
    trade: Trade
    amount_minor: int
    status: str = "PROCESSING"


class RefundRefused(Exception):
    """The refund API's refusal: a provider error code."""


class ProviderSimulator:
    """The providers' side of payments in one process: it remembers the payments it made and the refunds
    asked of it, and signs every notice and response exactly as the provider it plays.

    - WeChat Pay v3 (`wechatpay-sim`; also the API of the first simulator's `psp-sim` payments): notices
      with the transaction or refund AES-256-GCM encrypted under the API v3 key, signed RSA-SHA256 over
      timestamp, nonce and body with Wechatpay-* headers; API responses signed the same way.
    - Alipay (`alipay-sim`): form notices and JSON API responses signed RSA2 (quanyi_platform.psp.alipay).
    """

    def __init__(self, key: RSAPrivateKey, serial: str, api_v3_key: bytes) -> None:
        self.key = key
        self.serial = serial
        self.api_v3_key = api_v3_key
        self.trades: dict[str, Trade] = {}
        self.refunds: dict[str, SimRefund] = {}

    def pay(self, provider: str, order_id: str, amount_minor: int, currency: str, txn_id: str = "") -> Trade:
        prefix = {WECHATPAY: "4200", ALIPAY: "2026"}.get(provider, "sim-")
        txn = txn_id or f"{prefix}{uuid.uuid4().hex[:24]}"
        paid_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        trade = Trade(provider, order_id, txn, amount_minor, currency, paid_at)
        self.trades[txn] = trade
        return trade

    def trade_of_order(self, order_id: str) -> Trade | None:
        return next((t for t in self.trades.values() if t.order_id == order_id), None)

    # WeChat Pay v3

    def wechat_signed(self, doc: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """A JSON body and the platform's signature headers (an API response, or a notice's body)."""
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return body, {"Content-Type": "application/json",
                      **wechatpay.signed_headers(self.key, self.serial, body, str(int(time.time())))}

    def wechat_transaction(self, trade: Trade) -> dict[str, Any]:
        return {
            "appid": "wxd678efh567hg6787", "mchid": "1230000109", "out_trade_no": trade.order_id,
            "transaction_id": trade.txn_id, "trade_type": "NATIVE", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "success_time": trade.paid_at,
            "amount": {"total": trade.amount_minor, "currency": trade.currency,
                       "payer_total": trade.amount_minor, "payer_currency": trade.currency},
        }

    def wechat_notice(self, event_type: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        created = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        body = wechatpay.notice_body(self.api_v3_key, str(uuid.uuid4()), event_type, created, payload)
        return body, {"Content-Type": "application/json",
                      **wechatpay.signed_headers(self.key, self.serial, body, str(int(time.time())))}

    def wechat_refund_doc(self, refund: SimRefund) -> dict[str, Any]:
        t = refund.trade
        return {
            "refund_id": refund.refund_id, "out_refund_no": refund.out_refund_no, "transaction_id": t.txn_id,
            "out_trade_no": t.order_id, "status": refund.status, "refund_status": refund.status,
            "amount": {"refund": refund.amount_minor, "total": t.amount_minor, "currency": t.currency},
        }

    def refund(self, out_refund_no: str, txn_id: str, order_id: str, amount_minor: int) -> SimRefund:
        """Take a refund request, once per out_refund_no; raises RefundRefused with the provider's code."""
        known = self.refunds.get(out_refund_no)
        if known is not None:
            return known
        trade = self.trades.get(txn_id) if txn_id else self.trade_of_order(order_id)
        if trade is None or trade.order_id != order_id:
            raise RefundRefused("RESOURCE_NOT_EXISTS")
        if amount_minor <= 0 or amount_minor > trade.amount_minor - trade.refunded_minor:
            raise RefundRefused("NOT_ENOUGH")
        trade.refunded_minor += amount_minor
        refund = SimRefund(f"5030{uuid.uuid4().hex[:24]}", out_refund_no, trade, amount_minor)
        self.refunds[out_refund_no] = refund
        return refund

    # Alipay

    def alipay_notice(self, trade: Trade) -> bytes:
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        params = {
            "notify_time": now, "notify_type": "trade_status_sync", "notify_id": uuid.uuid4().hex,
            "app_id": "2021000000000000", "charset": "utf-8", "version": "1.0", "trade_no": trade.txn_id,
            "out_trade_no": trade.order_id, "trade_status": "TRADE_SUCCESS",
            "total_amount": alipay.yuan(trade.amount_minor),
            "receipt_amount": alipay.yuan(trade.amount_minor), "gmt_payment": now,
        }
        return urlencode(alipay.sign_params(self.key, params)).encode()

    def alipay_call(self, method: str, biz: dict[str, Any]) -> bytes:
        """The signed response of an Alipay API call (alipay.trade.query, alipay.trade.refund)."""
        if method == "alipay.trade.query":
            trade = self.trade_of_order(str(biz.get("out_trade_no", "")))
            if trade is None:
                doc: dict[str, Any] = {
                    "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"
                }
            else:
                doc = {"code": "10000", "msg": "Success", "trade_no": trade.txn_id,
                       "out_trade_no": trade.order_id, "trade_status": "TRADE_SUCCESS",
                       "total_amount": alipay.yuan(trade.amount_minor)}
        elif method == "alipay.trade.refund":
            try:
                amount = alipay.fen(str(biz.get("refund_amount", "")))
                refund = self.refund(str(biz.get("out_request_no", "")), str(biz.get("trade_no", "")),
                                     str(biz.get("out_trade_no", "")), amount)
                refund.status = "SUCCESS"
                doc = {"code": "10000", "msg": "Success", "trade_no": refund.trade.txn_id,
                       "out_trade_no": refund.trade.order_id, "fund_change": "Y",
                       "refund_fee": alipay.yuan(refund.trade.refunded_minor)}
            except (RefundRefused, alipay.Rejected) as exc:
                doc = {"code": "40004", "msg": "Business Failed", "sub_code": f"ACQ.{exc}"}
        else:
            doc = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method"}
        return alipay.signed_response(self.key, method, doc)
