"""Users and bearer tokens in the gateway schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg_pool import AsyncConnectionPool

Role = Literal["buyer", "admin"]


@dataclass(frozen=True)
class User:
    """An authenticated account."""

    user_id: uuid.UUID
    email: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """How this user is named in other services' audit trails."""
        return f"{self.role}:{self.user_id}"


@dataclass(frozen=True)
class Credentials:
    """A user with their stored password hash, for sign-in only."""

    user: User
    password_hash: str


def _user(row: Any) -> User:
    return User(user_id=row["user_id"], email=row["email"], role=row["role"])


class UserRepository:
    """Accounts. E-mail addresses are stored lower-case and are unique."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def add(self, email: str, password_hash: str, role: Role = "buyer") -> User | None:
        """Create an account; None when the e-mail address is taken."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO users (user_id, email, password_hash, role) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (email) DO NOTHING RETURNING user_id, email, role",
                (uuid.uuid4(), email.lower(), password_hash, role),
            )
            row = await cur.fetchone()
        return _user(row) if row else None

    async def upsert_admin(self, email: str, password_hash: str) -> User:
        """Create the administrator, or make the existing account an administrator with this password."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO users (user_id, email, password_hash, role) VALUES (%s, %s, %s, 'admin')"
                " ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = 'admin'"
                " RETURNING user_id, email, role",
                (uuid.uuid4(), email.lower(), password_hash),
            )
            row = await cur.fetchone()
        return _user(row)

    async def credentials(self, email: str) -> Credentials | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id, email, role, password_hash FROM users WHERE email = %s", (email.lower(),)
            )
            row: Any = await cur.fetchone()
        return Credentials(_user(row), row["password_hash"]) if row else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = %s WHERE user_id = %s", (password_hash, user_id)
            )


class TokenRepository:
    """Bearer tokens, by their SHA-256 digest; a token is valid until its expiry."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def add(self, digest: bytes, user_id: uuid.UUID, ttl: timedelta) -> datetime:
        """Store a new token for the user and drop the user's expired ones; returns the expiry."""
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM tokens WHERE user_id = %s AND expires_at <= now()", (user_id,))
            cur = await conn.execute(
                "INSERT INTO tokens (token_sha256, user_id, expires_at) VALUES (%s, %s, now() + %s)"
                " RETURNING expires_at",
                (digest, user_id, ttl),
            )
            row: Any = await cur.fetchone()
        expires_at: datetime = row["expires_at"]
        return expires_at

    async def user(self, digest: bytes) -> User | None:
        """The user holding an unexpired token with this digest, or None."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT u.user_id, u.email, u.role FROM tokens t JOIN users u USING (user_id)"
                " WHERE t.token_sha256 = %s AND t.expires_at > now()",
                (digest,),
            )
            row = await cur.fetchone()
        return _user(row) if row else None
