"""Posting to a peer's HTTP API with exponential backoff and full jitter between attempts (tenacity).

Shared by the outbound channels (webhook, SMS provider, partner top-up). An attempt that times out, cannot
connect, or is answered 408, 429 or 5xx is retried after a random wait of up to min(base_s * 2**n, cap_s)
seconds (tenacity's wait_random_exponential: full jitter, so peers that failed together are not all hit
again at the same instant); any other non-2xx answer is a refusal and is not retried (the caller may name
it from the body: "account not found"). After `max_attempts` the post is given up. Reasons name the
peer (`name`) and the failure, never the URL (personal data for a webhook) nor the body (it holds keys).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from quanyi_fulfillment.application.ports import ChannelAttempt

_RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class Posted:
    """The peer answered 2xx on attempt `attempts`."""

    attempts: int
    response: httpx.Response | None = None


@dataclass(frozen=True)
class NotPosted:
    """Given up after `attempts`; `reason` names the last failure (no URL, no key)."""

    attempts: int
    reason: str


PostOutcome = Posted | NotPosted


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    timeout_s: float = 10.0
    # No attempt starts after this long (whatever is left of max_attempts): a caller waits for the outcome.
    total_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refusal(name: str, response: httpx.Response) -> str:
    return f"{name} refused: HTTP {response.status_code}"


async def post_with_retries(
    client: httpx.AsyncClient,
    name: str,
    url: str,
    body: bytes,
    headers: Callable[[], Mapping[str, str]],
    policy: RetryPolicy,
    refusal: Callable[[str, httpx.Response], str] = _refusal,
) -> PostOutcome:
    """Post `body` to `url` with `headers()` (called per attempt: a signature is made afresh), retrying
    passing failures per `policy`; `refusal` names a non-retried answer."""
    attempts = 0
    timeout = httpx.Timeout(policy.timeout_s)

    async def attempt_once() -> httpx.Response:
        try:
            response = await client.post(url, content=body, headers=dict(headers()), timeout=timeout)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise _Refused(f"{name} URL is not an http(s) URL") from None
        except httpx.TimeoutException:
            raise _Retryable(f"{name} timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{name} unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status >= 500 or status in _RETRIED_STATUSES:
            raise _Retryable(f"{name} answered HTTP {status}")
        raise _Refused(refusal(name, response))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.total_s),
        wait=wait_random_exponential(multiplier=policy.base_s, max=policy.cap_s),
        retry=retry_if_exception_type(_Retryable),
    )
    try:
        async for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                response = await attempt_once()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        return NotPosted(attempts, last.reason if isinstance(last, _Retryable) else f"{name} failed")
    except _Refused as exc:
        return NotPosted(attempts, exc.reason)
    return Posted(attempts, response)


def attempt_of(outcome: PostOutcome) -> ChannelAttempt:
    """A post's outcome as a channel's."""
    return ChannelAttempt(outcome.attempts, outcome.reason if isinstance(outcome, NotPosted) else None)
