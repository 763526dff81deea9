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

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

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
