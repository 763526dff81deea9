"""Account use cases: register, sign in, resolve a bearer token. Hashing runs off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from quanyi_gateway import security
from quanyi_gateway.adapters.users import TokenRepository, User, UserRepository


class EmailTaken(Exception):
    """An account with this e-mail address exists."""


class BadCredentials(Exception):
    """No account matches this e-mail address and password."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class Accounts:
    """Buyers' and administrators' accounts and their bearer tokens."""

    def __init__(self, users: UserRepository, tokens: TokenRepository, hash_n: int, token_ttl_s: int) -> None:
        self._users = users
        self._tokens = tokens
        self._hash_n = hash_n
        self._ttl = timedelta(seconds=token_ttl_s)
        # Verified against when the e-mail is unknown, so timing does not tell which addresses exist.
        self._dummy_hash = security.hash_password("not-a-password", hash_n)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(security.hash_password, password, self._hash_n)

    async def register(self, email: str, password: str) -> User:
        """Create a buyer. Raises EmailTaken."""
        user = await self._users.add(email, await self._hash(password))
        if user is None:
            raise EmailTaken(email)
        return user

    async def ensure_admin(self, email: str, password: str) -> User:
        """Create the administrator, or reset its password to the configured one."""
        return await self._users.upsert_admin(email, await self._hash(password))

    async def sign_in(self, email: str, password: str) -> IssuedToken:
        """A new bearer token for a correct e-mail and password. Raises BadCredentials."""
        creds = await self._users.credentials(email.strip())
        stored = creds.password_hash if creds else self._dummy_hash
        ok = await asyncio.to_thread(security.verify_password, password, stored)
        if creds is None or not ok:
            raise BadCredentials()
        if security.needs_rehash(creds.password_hash, self._hash_n):
            await self._users.set_password_hash(creds.user.user_id, await self._hash(password))
        token = security.new_token()
        await self._tokens.add(security.token_digest(token), creds.user.user_id, self._ttl)
        return IssuedToken(token=token, expires_in=int(self._ttl.total_seconds()))

    async def user_for_token(self, token: str) -> User | None:
        """The holder of an unexpired token, or None."""
        return await self._tokens.user(security.token_digest(token))
