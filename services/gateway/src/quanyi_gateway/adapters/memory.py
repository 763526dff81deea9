"""In-memory implementations of the gateway's storage ports, for tests and single-process use.

They give the same guarantees as the Postgres adapters (tests/contracts runs one suite against both).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from quanyi_gateway.application.model import Credentials, Revocation, Role, User


class InMemoryUserRepository:
    """A UserRepository in a dict keyed by lower-case e-mail."""

    def __init__(self) -> None:
        self._by_email: dict[str, tuple[User, str]] = {}

    async def add(self, email: str, password_hash: str, role: Role = "buyer") -> User | None:
        key = email.lower()
        if key in self._by_email:
            return None
        user = User(uuid.uuid4(), key, role)
        self._by_email[key] = (user, password_hash)
        return user

    async def upsert_admin(self, email: str, password_hash: str) -> User:
        key = email.lower()
        known = self._by_email.get(key)
        user = User(known[0].user_id if known else uuid.uuid4(), key, "admin")
        self._by_email[key] = (user, password_hash)
        return user

    async def credentials(self, email: str) -> Credentials | None:
        known = self._by_email.get(email.lower())
        return Credentials(known[0], known[1]) if known else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        for key, (user, _) in self._by_email.items():
            if user.user_id == user_id:
                self._by_email[key] = (user, password_hash)


class InMemoryRevocationStore:
    """A RevocationStore in a dict keyed by token id."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._rows: dict[str, Revocation] = {}

    async def revoke(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        self._rows.setdefault(jti, Revocation(jti, expires_at, self._now()))

    async def revoked_since(self, since: datetime | None) -> list[Revocation]:
        now = self._now()
        return [
            r for r in self._rows.values() if r.expires_at > now and (since is None or r.revoked_at >= since)
        ]

    async def purge_expired(self) -> int:
        now = self._now()
        expired = [jti for jti, r in self._rows.items() if r.expires_at <= now]
        for jti in expired:
            del self._rows[jti]
        return len(expired)


class InMemoryNonceStore:
    """A NonceStore that forgets a nonce `retention` after it was first seen."""

    def __init__(self, retention: timedelta, clock: Callable[[], float] = time.monotonic) -> None:
        self._retention = retention.total_seconds()
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}

    async def remember(self, partner: str, nonce: str) -> bool:
        now = self._clock()
        for key in [k for k, t in self._seen.items() if t < now - self._retention]:
            del self._seen[key]
        if (partner, nonce) in self._seen:
            return False
        self._seen[(partner, nonce)] = now
        return True
