"""The signed outbound webhook's sender: signs each attempt afresh and posts it with backoff and jitter
(adapters.http_retry). A reason never names the URL (personal data) nor the body (it holds the keys)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from quanyi_fulfillment.adapters.http_retry import (
    NotPosted,
    Posted,
    PostOutcome,
    RetryPolicy,
    attempt_of,
    post_with_retries,
)
from quanyi_fulfillment.application.ports import ChannelAttempt
from quanyi_fulfillment.domain.delivery import WEBHOOK, KeyToSend
from quanyi_fulfillment.domain.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    delivery_id,
    sign,
    webhook_body,
)

__all__ = ["NotPosted", "Posted", "WebhookClient"]


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
        policy: RetryPolicy | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook signing secret is required")
        self._client = client
        self._secret = secret
        self._policy = policy or RetryPolicy(max_attempts, base_s, cap_s, timeout_s)
        self._clock = clock

    async def post(self, url: str, body: bytes, delivery: str) -> PostOutcome:
        """Post `body` to `url`, signed afresh on each attempt, retrying passing failures."""

        def headers() -> dict[str, str]:
            return {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self._secret, int(self._clock()), body),
                DELIVERY_HEADER: delivery,
            }

        outcome = await post_with_retries(self._client, "webhook", url, body, headers, self._policy)
        return Posted(outcome.attempts) if isinstance(outcome, Posted) else outcome

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        """The channel: the order's keys to the webhook URL `target`."""
        body = webhook_body(order_id, keys, instructions)
        return attempt_of(await self.post(target, body, delivery_id(order_id, WEBHOOK)))
