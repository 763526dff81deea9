"""Accounts and revoked access tokens in the gateway's Postgres schema (plain tables, not projections)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.application.model import Credentials, Revocation, Role, User


def _user(row: Any) -> User:
    return User(user_id=row["user_id"], email=row["email"], role=row["role"])


class PostgresUserRepository:
    """A UserRepository (see application.ports) on the `users` table."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def add(self, email: str, password_hash: str, role: Role = "buyer") -> User | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO users (user_id, email, password_hash, role) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (email) DO NOTHING RETURNING user_id, email, role",
                (uuid.uuid4(), email.lower(), password_hash, role),
            )
            row = await cur.fetchone()
        return _user(row) if row else None

    async def upsert_admin(self, email: str, password_hash: str) -> User:
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


    async def operators(self) -> list[User]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id, email, role FROM users WHERE role <> 'buyer' ORDER BY email"
            )
            rows = await cur.fetchall()
        return [_user(r) for r in rows]

    async def set_operator_role(self, user_id: uuid.UUID, role: Role) -> User | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE users SET role = %s WHERE user_id = %s AND role NOT IN ('buyer', 'admin')"
                " RETURNING user_id, email, role",
                (role, user_id),
            )
            row = await cur.fetchone()
        return _user(row) if row else None

    async def remove_operator(self, user_id: uuid.UUID) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM users WHERE user_id = %s AND role NOT IN ('buyer', 'admin')", (user_id,)
            )
            return cur.rowcount == 1


class PostgresRevocationStore:
    """A RevocationStore (see application.ports) on the `revoked_tokens` table."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def revoke(self, jti: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (jti) DO NOTHING",
                (jti, user_id, expires_at),
            )

    async def revoke_account(self, user_id: uuid.UUID, revoked_at: datetime, expires_at: datetime) -> None:
        # The account's row is the one whose jti is the account's id.
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (jti) DO UPDATE SET"
                " expires_at = greatest(revoked_tokens.expires_at, EXCLUDED.expires_at),"
                " revoked_at = greatest(revoked_tokens.revoked_at, EXCLUDED.revoked_at)",
                (user_id, user_id, expires_at, revoked_at),
            )

    async def revoked_since(self, since: datetime | None) -> list[Revocation]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT jti::text AS jti, expires_at, revoked_at, jti = user_id AS account"
                " FROM revoked_tokens"
                " WHERE expires_at > now() AND (%(since)s::timestamptz IS NULL OR revoked_at >= %(since)s)",
                {"since": since},
            )
            rows: list[Any] = await cur.fetchall()
        return [Revocation(r["jti"], r["expires_at"], r["revoked_at"], r["account"]) for r in rows]

    async def purge_expired(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM revoked_tokens WHERE expires_at <= now()")
            return cur.rowcount
