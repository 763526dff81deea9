"""Alipay open API (RSA2): signing and verifying sorted parameters, and amounts.

- Asynchronous notices are form-encoded parameters. The string signed is every parameter but `sign` and
  `sign_type` with a non-empty value, sorted by name, joined as `k=v` with `&` (values not URL-encoded);
  `sign` is base64 RSASSA-PKCS1-v1_5 SHA-256 with Alipay's key (sign_type RSA2).
- API responses are `{"<method>_response": {...}, "sign": "..."}`; the signature covers the exact JSON
  text of the response object as sent.
- Amounts are decimal strings of yuan with two places ("19.90"); quanyi converts exactly to fen.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class Rejected(Exception):
    """Not proven to come from Alipay, or not readable."""


def content(params: Mapping[str, str]) -> bytes:
    """The string Alipay signs for a set of parameters."""
    items = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type") and v != "")
    return "&".join(f"{k}={v}" for k, v in items).encode()


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def _verify(key: rsa.RSAPublicKey, data: bytes, signature: str) -> None:
    try:
        key.verify(base64.b64decode(signature, validate=True), data, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        raise Rejected("bad signature") from None


def sign_params(key: rsa.RSAPrivateKey, params: Mapping[str, str]) -> dict[str, str]:
    """`params` with `sign_type` and `sign` added (Alipay's side, for notices)."""
    signed = {**params, "sign_type": "RSA2"}
    return {**signed, "sign": _sign(key, content(signed))}


def verify_params(key: rsa.RSAPublicKey, params: Mapping[str, str]) -> None:
    if params.get("sign_type", "RSA2") != "RSA2" or not params.get("sign"):
        raise Rejected("missing or unsupported signature")
    _verify(key, content(params), params["sign"])


def signed_response(key: rsa.RSAPrivateKey, method: str, response: dict[str, Any]) -> bytes:
    """An API response body as Alipay sends it."""
    text = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    name = method.replace(".", "_") + "_response"
    return ('{"' + name + '":' + text + ',"sign":"' + _sign(key, text.encode()) + '"}').encode()


def open_response(key: rsa.RSAPublicKey, method: str, body: bytes) -> dict[str, Any]:
    """Verify an API response and return its response object. Raises Rejected."""
    name = method.replace(".", "_") + "_response"
    text = body.decode()
    marker = '"' + name + '":'
    start = text.find(marker)
    end = text.rfind(',"sign":"')
    if start < 0 or end < 0:
        raise Rejected("not a response")
    inner = text[start + len(marker):end]
    try:
        signature = json.loads(text)["sign"]
        doc = json.loads(inner)
    except (ValueError, KeyError):
        raise Rejected("not a response") from None
    _verify(key, inner.encode(), str(signature))
    if not isinstance(doc, dict):
        raise Rejected("not a response")
    return doc


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fen(amount: str) -> int:
    """Exact fen of a yuan amount with at most two decimal places; raises Rejected otherwise."""
    try:
        value = Decimal(amount) * 100
    except InvalidOperation:
        raise Rejected("bad amount") from None
    if value != value.to_integral_value() or value < 0:
        raise Rejected("bad amount")
    return int(value)
