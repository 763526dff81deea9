"""Accounts: register, sign in, authenticate a request, sign out. Hashing runs off the event loop.

Access tokens are signed (see `security.issue_access_token`): a request is authenticated by checking the
signature and an in-process set of revoked token ids, with no database round trip. Signing out records
the token's id in the shared `RevocationStore` and in this replica's set at once; every other replica
reloads revocations every `refresh_s` seconds (`TokenRevocations.run`), so a revoked token is refused
everywhere within that interval, and by the replica that revoked it immediately.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from quanyi_gateway import security
from quanyi_gateway.application.errors import BadCredentials, ConfiguredOwner, EmailTaken, OperatorNotFound
from quanyi_gateway.application.limits import Limits
from quanyi_gateway.application.model import IssuedToken, Role, User
from quanyi_gateway.application.ports import RevocationStore, UserRepository
from quanyi_gateway.application.roles import OperatorRole

log = logging.getLogger(__name__)

# Revocations are reloaded from a little before the newest one seen: one recorded by a transaction that
# committed late, with an earlier time, is still picked up.
_RELOAD_OVERLAP = timedelta(seconds=30)
# How often expired revocations are deleted from the store.
_PURGE_EVERY_S = 600.0
# Verified tokens remembered (the oldest is forgotten first): a client sends the same token with every
# request, and checking a signature costs far more than a dict lookup.
_MAX_VERIFIED_TOKENS = 10_000


class TokenRevocations:
    """The ids of revoked, unexpired access tokens, held in memory and refreshed from the store."""

    def __init__(self, store: RevocationStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        # jti -> expiry (Unix seconds); an account's id -> (expiry, when its tokens were revoked).
        self._revoked: dict[str, float] = {}
        self._accounts: dict[str, tuple[float, float]] = {}
        self._newest: datetime | None = None
        self._last_purge = 0.0

    def is_revoked(self, jti: str) -> bool:
        """True when the token was revoked (at this replica, or at another one by the last refresh)."""
        return jti in self._revoked

    def revoked_at(self, user_id: str) -> float | None:
        """When every token the account held was last revoked (Unix seconds), or None."""
        known = self._accounts.get(user_id)
        return known[1] if known is not None else None

    def issued_before_revocation(self, user_id: str, issued_at: int) -> bool:
        """True when the account's tokens were revoked at or after this token was issued."""
        revoked_at = self.revoked_at(user_id)
        return revoked_at is not None and issued_at <= revoked_at

    async def revoke(self, jti: str, user_id: uuid.UUID, expires_at: int) -> None:
        """Refuse this token from now on, here at once and at the other replicas by their next refresh."""
        await self._store.revoke(jti, user_id, datetime.fromtimestamp(expires_at, UTC))
        self._revoked[jti] = float(expires_at)

    async def revoke_account(self, user_id: uuid.UUID, expires_at: int) -> None:
        """Refuse every token of the account issued until now (not the ones issued later), here at once
        and at the other replicas by their next refresh. `expires_at`: when the last of them expires."""
        now = self._clock()
        known = self.revoked_at(str(user_id))
        if known is not None:
            # A token issued in the second of the last revocation is dated the next second (see sign-in):
            # the cut-off must reach past that second, or such a token outlives this revocation.
            now = max(now, float(int(known) + 1))
        await self._store.revoke_account(
            user_id, datetime.fromtimestamp(now, UTC), datetime.fromtimestamp(expires_at, UTC)
        )
        self._accounts[str(user_id)] = (float(expires_at), now)

    async def refresh(self) -> None:
        """Load the revocations recorded since the last refresh, and forget the ones that have expired."""
        since = self._newest - _RELOAD_OVERLAP if self._newest is not None else None
        for r in await self._store.revoked_since(since):
            if r.account:
                self._accounts[r.jti] = (r.expires_at.timestamp(), r.revoked_at.timestamp())
            else:
                self._revoked[r.jti] = r.expires_at.timestamp()
            if self._newest is None or r.revoked_at > self._newest:
                self._newest = r.revoked_at
        now = self._clock()
        expired = [jti for jti, exp in self._revoked.items() if exp <= now]
        for jti in expired:
            del self._revoked[jti]
        for account in [a for a, (exp, _) in self._accounts.items() if exp <= now]:
            del self._accounts[account]
        if now - self._last_purge >= _PURGE_EVERY_S:
            self._last_purge = now
            await self._store.purge_expired()

    async def run(self, refresh_s: float) -> None:
        """Refresh every `refresh_s` seconds until cancelled; a failed refresh is retried at the next one."""
        while True:
            await asyncio.sleep(refresh_s)
            try:
                await self.refresh()
            except Exception:
                log.warning("revoked tokens not refreshed; retrying", exc_info=True)


class Accounts:
    """Buyers' and administrators' accounts and their access tokens."""

    def __init__(
        self,
        users: UserRepository,
        revocations: TokenRevocations,
        token_secret: str,
        hash_n: int,
        token_ttl_s: int,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        self._users = users
        self._limits = limits
        self._revocations = revocations
        self._secret = token_secret
        self._hash_n = hash_n
        self._ttl_s = token_ttl_s
        self._clock = clock
        # token -> (holder, jti, expiry, issued at)
        self._verified: dict[str, tuple[User, str, int, int]] = {}
        # Verified against when the e-mail is unknown, so timing does not tell which addresses exist.
        self._dummy_hash = security.hash_password("not-a-password", hash_n)

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(security.hash_password, password, self._hash_n)

    async def register(self, email: str, password: str, ip: str | None = None) -> User:
        """Create a buyer. Raises EmailTaken, limits.RateLimited."""
        if self._limits is not None:
            await self._limits.check("register", ip=ip, account=email.strip().lower())
        user = await self._users.add(email, await self._hash(password))
        if user is None:
            raise EmailTaken(email)
        return user

    async def ensure_admin(self, email: str, password: str) -> User:
        """Create the administrator, or reset its password to the configured one."""
        return await self._users.upsert_admin(email, await self._hash(password))

    async def add_operator(self, email: str, password: str, role: OperatorRole) -> User:
        """Create an operator's account with a role (an owner's act). Raises EmailTaken."""
        user = await self._users.add(email, await self._hash(password), role)
        if user is None:
            raise EmailTaken(email)
        return user

    async def operators(self) -> list[User]:
        """Every operator's account (the configured owner's too), by e-mail address."""
        return await self._users.operators()

    async def change_role(self, user_id: uuid.UUID, role: OperatorRole) -> User:
        """Give an operator another role; the tokens they hold stop working (they carry the old role), and
        they sign in again. Raises OperatorNotFound, ConfiguredOwner."""
        user = await self._operator(user_id)
        changed = await self._users.set_operator_role(user.user_id, role)
        if changed is None:
            raise OperatorNotFound(str(user_id))
        await self.revoke_all(user_id)
        return changed

    async def remove_operator(self, user_id: uuid.UUID) -> None:
        """Delete an operator's account; the tokens they hold stop working. Their name stays in the audit
        trails as `role:id`. Raises OperatorNotFound, ConfiguredOwner."""
        await self._operator(user_id)
        if not await self._users.remove_operator(user_id):
            raise OperatorNotFound(str(user_id))
        await self.revoke_all(user_id)

    async def _operator(self, user_id: uuid.UUID) -> User:
        found = next((u for u in await self._users.operators() if u.user_id == user_id), None)
        if found is None:
            raise OperatorNotFound(str(user_id))
        if found.role == "admin":
            raise ConfiguredOwner(str(user_id))
        return found

    async def sign_in(self, email: str, password: str, ip: str | None = None) -> IssuedToken:
        """A new signed access token for a correct e-mail and password. Raises BadCredentials, and
        limits.RateLimited while the account is locked by failed sign-ins (even for the right password)
        or past the sign-in limits. Unknown addresses count failures like known ones."""
        account = email.strip().lower()
        if self._limits is not None:
            await self._limits.check_login(account, ip)
        creds = await self._users.credentials(account)
        stored = creds.password_hash if creds else self._dummy_hash
        ok = await asyncio.to_thread(security.verify_password, password, stored)
        if creds is None or not ok:
            if self._limits is not None:
                await self._limits.login_failed(account)
            raise BadCredentials()
        if self._limits is not None:
            await self._limits.login_succeeded(account)
        if security.needs_rehash(creds.password_hash, self._hash_n):
            await self._users.set_password_hash(creds.user.user_id, await self._hash(password))
        user = creds.user
        issued_at = int(self._clock())
        revoked_at = self._revocations.revoked_at(str(user.user_id))
        if revoked_at is not None and issued_at <= revoked_at:
            # Tokens are dated in whole seconds: one issued in the second its account's tokens were revoked
            # (a role just changed) is dated the next second, or it would be refused with the old ones.
            issued_at = int(revoked_at) + 1
        token = security.issue_access_token(
            self._secret, user.user_id, user.email, user.role, issued_at, self._ttl_s
        )
        return IssuedToken(token=token, expires_in=self._ttl_s)

    def authenticate(self, token: str) -> User | None:
        """The holder of a valid, unexpired, unrevoked token, or None. No I/O.

        A token's signature is checked once; after that it is known by its exact text until it expires
        (it is checked against the revoked tokens at every request).
        """
        known = self._verified.get(token)
        if known is None:
            claims = security.read_access_token(self._secret, token)
            if claims is None:
                return None
            role = cast(Role, claims.role)  # read_access_token accepts only known roles
            user = User(claims.user_id, claims.email, role)
            known = (user, claims.jti, claims.expires_at, claims.issued_at)
            if len(self._verified) >= _MAX_VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = known
        user, jti, expires_at, issued_at = known
        if self._clock() >= expires_at:
            self._verified.pop(token, None)
            return None
        if self._revocations.is_revoked(jti) or self._revocations.issued_before_revocation(
            str(user.user_id), issued_at
        ):
            return None  # the token, or every token the account held (revoke_all), was revoked
        return user

    async def revoke_all(self, user_id: uuid.UUID) -> None:
        """Refuse every token of this account issued until now (its erasure, a change of its role): one
        revocation under the account's id, kept until the last of those tokens has expired. Tokens issued
        later are valid."""
        await self._revocations.revoke_account(user_id, int(self._clock()) + self._ttl_s + 1)

    async def sign_out(self, token: str) -> bool:
        """Revoke the token; False when it was not a valid one (then nothing is recorded)."""
        claims = security.read_access_token(self._secret, token)
        if claims is None:
            return False
        if not self._revocations.is_revoked(claims.jti):
            await self._revocations.revoke(claims.jti, claims.user_id, claims.expires_at)
        return True
