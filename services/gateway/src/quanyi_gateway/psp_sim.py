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
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_hex(16)
    headers = {
        "Content-Type": "application/json",
        "X-Psp-Signature": sign(key, timestamp, nonce, body),
        "X-Psp-Timestamp": timestamp,
        "X-Psp-Nonce": nonce,
        "X-Psp-Serial": serial,
    }
    return SignedNotice(notice_id=notice_id, txn_id=txn_id, body=body, headers=headers)
