"""Payment-provider notice signatures, in the scheme of WeChat Pay API v3.

The provider signs `timestamp + "\n" + nonce + "\n" + body + "\n"` (the raw body bytes) with RSA-SHA256,
PKCS#1 v1.5, and sends the base64 signature with the timestamp (unix seconds) and nonce as headers
(`X-Psp-Signature`, `X-Psp-Timestamp`, `X-Psp-Nonce`, `X-Psp-Serial`). A notice is accepted only if the
signature verifies with the provider's public key and the timestamp is within `max_skew_s` of now;
refusing repeated nonces is the caller's job (it needs the database).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class NoticeRejected(Exception):
    """The notice is not proven to come from the provider; nothing may be done with it."""


def signed_message(body: bytes | str, timestamp: str | int, nonce: str) -> bytes:
    raw = body.encode() if isinstance(body, str) else body
    return f"{timestamp}\n{nonce}\n".encode() + raw + b"\n"


def sign_notice(private_key_pem: bytes | str, body: bytes | str, timestamp: str | int, nonce: str) -> str:
    """The provider's side: the base64 signature of a notice. For tests and the provider simulator."""
    pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the provider's key must be an RSA key")
    signature = key.sign(signed_message(body, timestamp, nonce), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def load_public_key(pem: str = "", path: str = "") -> rsa.RSAPublicKey | None:
    """The provider's RSA public key from PEM text or a PEM file (a public key or a certificate)."""
    if not pem and path:
        pem = Path(path).read_text("utf-8")
    if not pem:
        return None
    data = pem.encode()
    key: object
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the provider's key must be an RSA key")
    return key


class NoticeVerifier:
    """Checks that a notice comes from the configured provider. Without a key it refuses every notice."""

    def __init__(
        self,
        provider: str,
        public_key: rsa.RSAPublicKey | None,
        max_skew_s: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self._key = public_key
        self._max_skew_s = max_skew_s
        self._clock = clock

    def verify(self, provider: str, body: bytes, signature: str, timestamp: str, nonce: str) -> None:
        """Return if the notice is authentic and fresh; raise NoticeRejected otherwise."""
        if self._key is None:
            raise NoticeRejected("payment notices are not accepted: no provider key is configured")
        if provider and provider != self.provider:
            raise NoticeRejected("unknown payment provider")
        if not signature or not timestamp or not nonce:
            raise NoticeRejected("missing signature, timestamp or nonce")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise NoticeRejected("bad timestamp") from None
        try:
            raw_signature = base64.b64decode(signature, validate=True)
            self._key.verify(raw_signature, signed_message(body, timestamp, nonce), padding.PKCS1v15(),
                             hashes.SHA256())
        except (binascii.Error, ValueError, InvalidSignature):
            raise NoticeRejected("bad signature") from None
        if abs(self._clock() - sent_at) > self._max_skew_s:
            raise NoticeRejected("notice timestamp out of range")
