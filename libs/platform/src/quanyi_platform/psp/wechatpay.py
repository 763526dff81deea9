"""WeChat Pay API v3: signatures, the AEAD-encrypted notice resource, and amounts.

- Every notice and every API response is signed by the platform: base64 RSASSA-PKCS1-v1_5 SHA-256 over
  `timestamp + "\\n" + nonce + "\\n" + body + "\\n"`, sent as `Wechatpay-Signature`, with
  `Wechatpay-Timestamp`, `Wechatpay-Nonce` and `Wechatpay-Serial` (which platform key signed it).
- A notice's body is `{"id", "create_time", "event_type", "resource_type": "encrypt-resource",
  "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext", "nonce", "associated_data"}}`: the
  business payload (a transaction, or a refund) is AES-256-GCM encrypted with the merchant's API v3 key
  (32 bytes), the 12-byte nonce and the associated data; `ciphertext` is base64 of ciphertext || tag.
- Amounts are integers of fen: `{"total": 1990, "currency": "CNY"}` (refunds: `{"refund", "total", ...}`).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGORITHM = "AEAD_AES_256_GCM"
SIGNATURE = "Wechatpay-Signature"
TIMESTAMP = "Wechatpay-Timestamp"
NONCE = "Wechatpay-Nonce"
SERIAL = "Wechatpay-Serial"


class Rejected(Exception):
    """Not proven to come from the platform, or not readable; nothing may be done with it."""


def message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign(key: rsa.RSAPrivateKey, timestamp: str, nonce: str, body: bytes) -> str:
    signature = key.sign(message(timestamp, nonce, body), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def signed_headers(key: rsa.RSAPrivateKey, serial: str, body: bytes, timestamp: str) -> dict[str, str]:
    """The headers with which the platform sends `body` (a notice or an API response)."""
    nonce = secrets.token_hex(16)
    return {TIMESTAMP: timestamp, NONCE: nonce, SERIAL: serial, SIGNATURE: sign(key, timestamp, nonce, body)}


def verify(key: rsa.RSAPublicKey, timestamp: str, nonce: str, body: bytes, signature: str) -> None:
    """Raise Rejected unless `signature` is the platform's over this timestamp, nonce and body."""
    if not (timestamp and nonce and signature):
        raise Rejected("missing signature, timestamp or nonce")
    try:
        key.verify(base64.b64decode(signature, validate=True), message(timestamp, nonce, body),
                   padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        raise Rejected("bad signature") from None


def encrypt(api_v3_key: bytes, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """The `resource` object of a notice (the platform's side)."""
    nonce = secrets.token_urlsafe(9)[:12]  # 12 printable characters, as the platform sends
    sealed = AESGCM(api_v3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": ALGORITHM, "ciphertext": base64.b64encode(sealed).decode(), "nonce": nonce,
        "associated_data": associated_data, "original_type": "transaction",
    }


def decrypt(api_v3_key: bytes, resource: dict[str, Any]) -> dict[str, Any]:
    """The business payload of a notice's `resource`; raises Rejected if it does not open."""
    if resource.get("algorithm") != ALGORITHM:
        raise Rejected("unknown resource algorithm")
    try:
        sealed = base64.b64decode(str(resource["ciphertext"]), validate=True)
        plain = AESGCM(api_v3_key).decrypt(
            str(resource["nonce"]).encode(), sealed, str(resource.get("associated_data", "")).encode()
        )
        doc = json.loads(plain)
    except (KeyError, binascii.Error, ValueError, InvalidTag):
        raise Rejected("the resource does not decrypt") from None
    if not isinstance(doc, dict):
        raise Rejected("the resource is not an object")
    return doc


@dataclass(frozen=True)
class Notice:
    """A verified, decrypted notice: its id, its event type (TRANSACTION.SUCCESS, REFUND.SUCCESS) and
    payload."""

    notice_id: str
    event_type: str
    resource: dict[str, Any]


def open_notice(
    key: rsa.RSAPublicKey, api_v3_key: bytes, headers: dict[str, str], body: bytes
) -> Notice:
    """Verify a notice's signature, then decrypt its resource. Raises Rejected."""
    verify(key, headers.get(TIMESTAMP, ""), headers.get(NONCE, ""), body, headers.get(SIGNATURE, ""))
    try:
        doc = json.loads(body)
        notice_id, event_type, resource = str(doc["id"]), str(doc["event_type"]), doc["resource"]
    except (ValueError, KeyError, TypeError):
        raise Rejected("not a notice") from None
    if not isinstance(resource, dict):
        raise Rejected("not a notice")
    return Notice(notice_id, event_type, decrypt(api_v3_key, resource))


def notice_body(
    api_v3_key: bytes, notice_id: str, event_type: str, created: str, payload: dict[str, Any]
) -> bytes:
    """A notice's body with `payload` encrypted (the platform's side)."""
    resource_type = "encrypt-resource"
    resource = encrypt(api_v3_key, json.dumps(payload, separators=(",", ":")).encode(), "transaction")
    summary = "支付成功" if event_type.startswith("TRANSACTION") else "退款成功"
    return json.dumps(
        {"id": notice_id, "create_time": created, "resource_type": resource_type, "event_type": event_type,
         "summary": summary, "resource": resource},
        separators=(",", ":"), ensure_ascii=False,
    ).encode()
