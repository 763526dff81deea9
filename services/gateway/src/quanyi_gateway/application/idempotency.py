"""Idempotency keys as Stripe keeps them.

- The same key with the same request replays the stored response, byte for byte (status and body).
- The same key with a different request is refused (`IdempotencyMismatch`, answered 422).
- Concurrent requests on one key run once: the first claims the key; the others wait for its response
  (a bounded time, then `IdempotencyInProgress`, answered 409).
- Keys live `ttl` (24 hours): after that the key is new again. A request that dies while holding the key
  (a crash, a timeout) holds it for `lease` at most; the next request with the key then runs it again.
- Only a success is stored (2xx: the order exists). A refusal (4xx) or a failure (5xx) releases the key, so a
  refused request writes nothing, and the same key may be sent again with the request corrected.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

TTL = timedelta(hours=24)
LEASE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response exactly as it was sent."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request finds when it presents its key.

    `run`: the key is this request's; `generation` names this life of the key (its creation time), so what
    the request asks of other services under the key is new after the key expired. `replay`: `response`
    settled an identical request. `mismatch`: the key came with another request. `busy`: an identical
    request is still running.
    """

    outcome: Literal["run", "replay", "mismatch", "busy"]
    generation: datetime | None = None
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Idempotency keys per owner (a buyer), shared by every gateway replica."""

    async def claim(
        self, owner: str, key: str, fingerprint: bytes, ttl: timedelta, lease: timedelta
    ) -> Claim:
        """Claim the key for a request with this fingerprint. At most one claimant at a time gets `run`
        for a key until it completes or releases it, or its lease ends; a row older than `ttl` counts as
        absent."""
        ...

    async def complete(self, owner: str, key: str, generation: datetime, response: StoredResponse) -> None:
        """Store the response of the claim of this generation; later claims replay it."""
        ...

    async def release(self, owner: str, key: str, generation: datetime) -> None:
        """Forget the claim of this generation: the next request with the key runs."""
        ...

    async def purge(self, ttl: timedelta) -> int:
        """Delete keys older than `ttl`; returns how many."""
        ...


class IdempotencyMismatch(Exception):
    """The key was used with a different request."""


class IdempotencyInProgress(Exception):
    """A request with this key is still running."""


def fingerprint(method: str, path: str, canonical_body: bytes) -> bytes:
    """The SHA-256 that tells requests apart: method, path and the body in canonical form."""
    return hashlib.sha256(b"\n".join((method.encode(), path.encode(), canonical_body))).digest()


def settles(status: int) -> bool:
    """Whether a response is stored for replay: a success, which created something."""
    return 200 <= status < 300


class Idempotency:
    """Runs a request once per (owner, key) and replays its response to every identical retry."""

    def __init__(
        self,
        store: IdempotencyStore,
        ttl: timedelta = TTL,
        lease: timedelta = LEASE,
        wait_s: float = 5.0,
        poll_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._lease = lease
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._clock = clock
        self._last_purge = 0.0

    async def run(
        self,
        owner: str,
        key: str,
        request_fingerprint: bytes,
        execute: Callable[[datetime], Awaitable[StoredResponse]],
    ) -> tuple[StoredResponse, bool]:
        """The response to the request and whether it is a replay. `execute(generation)` runs the request
        when this one holds the key. Raises IdempotencyMismatch, IdempotencyInProgress."""
        await self._purge_now_and_then()
        deadline = self._clock() + self._wait_s
        while True:
            claim = await self._store.claim(owner, key, request_fingerprint, self._ttl, self._lease)
            if claim.outcome == "replay":
                assert claim.response is not None
                return claim.response, True
            if claim.outcome == "mismatch":
                raise IdempotencyMismatch()
            if claim.outcome == "run":
                break
            if self._clock() >= deadline:
                raise IdempotencyInProgress()
            await asyncio.sleep(self._poll_s)
        assert claim.generation is not None
        try:
            response = await execute(claim.generation)
        except BaseException:
            await asyncio.shield(self._store.release(owner, key, claim.generation))
            raise
        if settles(response.status):
            await self._store.complete(owner, key, claim.generation, response)
        else:
            await self._store.release(owner, key, claim.generation)
        return response, False

    async def _purge_now_and_then(self) -> None:
        now = self._clock()
        if now - self._last_purge >= 600:
            self._last_purge = now
            await self._store.purge(self._ttl)
