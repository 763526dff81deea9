"""Abuse limits: requests per account and per IP address on sign-in, registration, checkout and key reveal;
exponential backoff after failed sign-ins; an operator's unlock; tighter limits for buyers risk flagged.

Counters are fixed windows kept in the gateway's Postgres (every replica shares them): one statement per
limited request counts it in every bucket it falls in and reads the buyer's tightening. A refused request
raises `RateLimited` with the seconds until the window that refused it ends (the Retry-After).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

# How often counters of ended windows are deleted.
_PURGE_EVERY_S = 600.0

Action = Literal["login", "register", "checkout", "reveal"]
Scope = Literal["account", "ip"]


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `limit` requests per `per_s` seconds."""

    limit: int
    per_s: int


@dataclass(frozen=True, slots=True)
class Backoff:
    """After `free` failed sign-ins in a row, each further failure locks the account for `base_s`·2^k
    seconds (k = failures past `free`, minus one), at most `max_s`."""

    free: int = 5
    base_s: float = 1.0
    max_s: float = 900.0

    def lock_s(self, failures: int) -> float:
        if failures <= self.free:
            return 0.0
        return min(self.max_s, self.base_s * float(2 ** min(failures - self.free - 1, 30)))


@dataclass(frozen=True, slots=True)
class Count:
    """A bucket's hits in its current window, and the seconds until that window ends."""

    bucket: str
    hits: int
    resets_in_s: float


class RateLimited(Exception):
    """Too many requests; retry after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.reason = reason


class LimitStore(Protocol):
    """Counters, sign-in failures and tightened buyers, shared by every gateway replica."""

    async def hit(self, buckets: Sequence[tuple[str, int]], buyer_id: str | None) -> tuple[list[Count], int]:
        """Count one request in each (bucket, window seconds); the counts after it, and the tightening
        factor in force for `buyer_id` (1 when none)."""
        ...

    async def login_locked_for(self, account: str) -> float:
        """Seconds the account stays locked after failed sign-ins (0 when it is not)."""
        ...

    async def login_failed(self, account: str, backoff: Backoff) -> float:
        """Record a failed sign-in; the seconds the account is now locked for."""
        ...

    async def login_succeeded(self, account: str) -> None:
        """Forget the account's failed sign-ins."""
        ...

    async def unlock(self, account: str) -> bool:
        """Forget the account's failed sign-ins and its sign-in counter; False when there was nothing."""
        ...

    async def tighten(self, buyer_id: str, factor: int, until: datetime, reason: str) -> None:
        """Divide the buyer's limits by `factor` until `until` (the strictest tightening in force wins)."""
        ...

    async def purge(self) -> int:
        """Delete counters of windows that have ended; returns how many."""
        ...


class Limits:
    """Checks requests against the configured rules; raises RateLimited."""

    def __init__(self, store: LimitStore, rules: Mapping[str, Rule], backoff: Backoff) -> None:
        self._store = store
        self._rules = dict(rules)
        self._backoff = backoff
        self._last_purge = time.monotonic()

    async def check(
        self, action: Action, *, ip: str | None, account: str | None = None, buyer_id: str | None = None
    ) -> None:
        """Count the request against `action`'s rules for its account and IP address. A buyer risk has
        flagged gets each account limit divided by the tightening factor."""
        buckets: list[tuple[str, int]] = []
        limits: dict[str, tuple[int, str]] = {}
        for scope, who in (("account", account), ("ip", ip)):
            rule = self._rules.get(f"{action}:{scope}")
            if rule is None or not who:
                continue
            bucket = f"{action}:{scope}:{who}"
            buckets.append((bucket, rule.per_s))
            limits[bucket] = (rule.limit, scope)
        if not buckets:
            return
        if time.monotonic() - self._last_purge >= _PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            await self._store.purge()
        counts, factor = await self._store.hit(buckets, buyer_id)
        for count in counts:
            limit, scope = limits[count.bucket]
            if scope == "account" and factor > 1:
                limit = max(1, limit // factor)
            if count.hits > limit:
                raise RateLimited(count.resets_in_s, f"too many {action} requests from this {scope}")

    async def check_login(self, account: str, ip: str | None) -> None:
        """Refuse a sign-in while the account is locked by failed ones, or past the sign-in limits."""
        locked_s = await self._store.login_locked_for(account)
        if locked_s > 0:
            raise RateLimited(locked_s, "this account is locked after failed sign-ins")
        await self.check("login", ip=ip, account=account)

    async def login_failed(self, account: str) -> None:
        await self._store.login_failed(account, self._backoff)

    async def login_succeeded(self, account: str) -> None:
        await self._store.login_succeeded(account)

    async def unlock(self, account: str) -> bool:
        """An operator's unlock: the account may sign in at once."""
        return await self._store.unlock(account)

    async def tighten(self, buyer_id: str, factor: int, until: datetime, reason: str) -> None:
        await self._store.tighten(buyer_id, factor, until, reason)
