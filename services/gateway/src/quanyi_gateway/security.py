"""Password hashing, signed access tokens and partner request signatures. Pure functions, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import jwt

from quanyi_gateway.application.roles import ROLES

_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_NONCE_CHARS = 128


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=256 * n * r * p + 1024 * 1024
    )


def hash_password(password: str, n: int) -> str:
    """scrypt with a fresh 16-byte salt, encoded as `scrypt$n$r$p$salt$hash` so the cost can change later."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${n}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches `encoded`; False for a wrong password or an unreadable hash."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str, n: int) -> bool:
    """True when `encoded` was made with another cost than `n` (it is re-hashed at the next sign-in)."""
    parts = encoded.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or parts[1] != str(n)


TOKEN_ISSUER = "quanyi-gateway"
_TOKEN_ALGORITHM = "HS256"
# Replicas' clocks may differ a little; a token is not refused for being issued a second "in the future".
_CLOCK_LEEWAY_S = 5


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says: whose it is, their role, its id, its expiry and when it was
    issued (Unix seconds)."""

    user_id: uuid.UUID
    email: str
    role: str
    jti: str
    expires_at: int
    issued_at: int = 0


def issue_access_token(secret: str, user_id: uuid.UUID, email: str, role: str, now: int, ttl_s: int) -> str:
    """A JWT (HS256) naming the user, their e-mail and role, with a fresh token id and an expiry.

    It is verified by signature alone, so authenticating a request needs no database; a token is
    withdrawn before its expiry by revoking its id (`jti`).
    """
    claims = {
        "iss": TOKEN_ISSUER,
        "sub": str(user_id),
        "email": email,
        "role": role,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=_TOKEN_ALGORITHM)


def read_access_token(secret: str, token: str) -> AccessClaims | None:
    """The claims of a token this gateway signed and that has not expired; None for any other string."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            leeway=_CLOCK_LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
        role = claims["role"]
        email = claims["email"]
        if role not in ROLES or not isinstance(email, str):
            return None
        return AccessClaims(
            uuid.UUID(claims["sub"]), email, role, str(claims["jti"]), int(claims["exp"]), int(claims["iat"])
        )
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        return None


def partner_signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp + "\\n" + nonce + "\\n" + body` under the partner's secret."""
    message = f"{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PartnerAuthFailure(Enum):
    """Why a partner request was refused. REPLAY is a conflict (409); the others are 401."""

    UNSIGNED = "signature headers are missing"
    BAD_SIGNATURE = "signature check failed"
    STALE = "timestamp is outside the allowed window"
    REPLAY = "nonce has already been used"


class PartnerAuthError(Exception):
    """A partner request failed authentication. The message never contains the body or the secret."""

    def __init__(self, failure: PartnerAuthFailure) -> None:
        super().__init__(failure.value)
        self.failure = failure


class NonceStore(Protocol):
    """Remembers nonces per partner long enough to outlive the allowed clock skew."""

    async def remember(self, partner: str, nonce: str) -> bool:
        """Record the nonce; True when it was new, False when it had been seen before."""
        ...


@dataclass(frozen=True)
class PartnerRequest:
    """A partner callback as received: the URL's partner, the signature headers and the raw body."""

    partner: str
    timestamp: str | None
    nonce: str | None
    signature: str | None
    body: bytes


async def authenticate_partner(
    request: PartnerRequest,
    partner_secrets: Mapping[str, str],
    nonces: NonceStore,
    now: float,
    skew_s: int,
) -> None:
    """Accept the request only when it is signed by the partner's secret, fresh, and its nonce is new.

    Checks run cheapest first, and the nonce is recorded only after the signature verified, so an
    unsigned request can neither pass nor burn a partner's nonce. An unknown partner looks the same as a
    bad signature.
    """
    timestamp, nonce, signature = request.timestamp, request.nonce, request.signature
    if not timestamp or not nonce or not signature or len(nonce) > _MAX_NONCE_CHARS:
        raise PartnerAuthError(PartnerAuthFailure.UNSIGNED)
    if not timestamp.isdigit() or abs(now - int(timestamp)) > skew_s:
        raise PartnerAuthError(PartnerAuthFailure.STALE)
    secret = partner_secrets.get(request.partner)
    # Compare against a dummy when the partner is unknown, so timing does not reveal partner names.
    expected = partner_signature(secret or "unknown-partner", timestamp, nonce, request.body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()) or secret is None:
        raise PartnerAuthError(PartnerAuthFailure.BAD_SIGNATURE)
    if not await nonces.remember(request.partner, nonce):
        raise PartnerAuthError(PartnerAuthFailure.REPLAY)
