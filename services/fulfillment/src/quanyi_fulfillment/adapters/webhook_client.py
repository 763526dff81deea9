"""Posting a signed webhook, with exponential backoff and full jitter between attempts (tenacity).

An attempt that times out, cannot connect, or is answered 408, 429 or 5xx is retried after a random wait
of up to min(base_s * 2**n, cap_s) seconds (tenacity's wait_random_exponential: full jitter, so receivers
that failed together are not all hit again at the same instant); any other 4xx is the receiver's refusal
and is not retried; 2xx is delivered. After `max_attempts` the webhook is given up, with a reason that
names the last failure: never the URL (personal data) nor the body (it holds the keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from quanyi_fulfillment.domain.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, sign

_RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Posted:
    """The receiver answered 2xx on attempt `attempts`."""

    attempts: int


@dataclass(frozen=True)
class NotPosted:
    """Given up after `attempts`; `reason` names the last failure (no URL, no key)."""

    attempts: int
    reason: str


WebhookOutcome = Posted | NotPosted


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookClient:
    """Posts signed webhooks over one httpx.AsyncClient (its connection pool is shared by every post)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        secret: bytes,
        *,
        max_attempts: int = 5,
        base_s: float = 1.0,
        cap_s: float = 60.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not secret:
            raise ValueError("a webhook signing secret is required")
        self._client = client
        self._secret = secret
        self._max_attempts = max_attempts
        self._base_s = base_s
        self._cap_s = cap_s
        self._timeout = httpx.Timeout(timeout_s)
        self._clock = clock

    async def post(self, url: str, body: bytes, delivery_id: str) -> WebhookOutcome:
        """Post `body` to `url`, signed afresh on each attempt, retrying passing failures."""
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_random_exponential(multiplier=self._base_s, max=self._cap_s),
            retry=retry_if_exception_type(_Retryable),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    await self._attempt(url, body, delivery_id)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            reason = last.reason if isinstance(last, _Retryable) else "webhook failed"
            return NotPosted(attempts, reason)
        except _Refused as exc:
            return NotPosted(attempts, exc.reason)
        return Posted(attempts)

    async def _attempt(self, url: str, body: bytes, delivery_id: str) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, int(self._clock()), body),
            DELIVERY_HEADER: delivery_id,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers, timeout=self._timeout)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise _Refused("webhook URL is not an http(s) URL") from None
        except httpx.TimeoutException:
            raise _Retryable("webhook timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"webhook unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status >= 500 or status in _RETRIED_STATUSES:
            raise _Retryable(f"webhook answered HTTP {status}")
        raise _Refused(f"webhook refused: HTTP {status}")
