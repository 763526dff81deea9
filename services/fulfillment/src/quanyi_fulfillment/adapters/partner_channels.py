"""The partner's top-up API (one-click activation), the SMS provider and the app's push service: channel
adapters over HTTP.

All post JSON with a bearer API key, with backoff and jitter between attempts (adapters.http_retry).

Activation tops up the buyer's account on the partner platform with each key of the order, one top-up per
key, each under the idempotency key `<order_id>:<key_id>`: a retry, a re-drive after an outage or a
resend never credits a key twice (the partner answers a repeated key with the first top-up). "Account not
found" is a refusal, not retried. The SMS adapter sends one text with the keys and their instructions.
The push adapter tells the buyer's device (its push token) that the keys are in the app, never the keys
(domain.push). No reason ever names the target (an account, a phone number, a device) nor a key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import httpx

from quanyi_fulfillment.adapters.http_retry import (
    NotPosted,
    RetryPolicy,
    attempt_of,
    post_with_retries,
)
from quanyi_fulfillment.application.ports import ChannelAttempt
from quanyi_fulfillment.domain.delivery import KeyToSend
from quanyi_fulfillment.domain.push import push_message
from quanyi_fulfillment.domain.sms import sms_out_id, sms_text

_KNOWN_ERRORS = {
    "account_not_found": "account not found",
    "invalid_number": "invalid number",
    "invalid_device": "invalid device",
    "device_not_registered": "device not registered",
    "unauthorized": "unauthorized",
}


def _named_refusal(name: str, response: httpx.Response) -> str:
    """A refusal named by the peer's error code when it is one we know (never echoing other text)."""
    try:
        code = json.loads(response.content).get("error", "")
    except (ValueError, AttributeError):
        code = ""
    known = _KNOWN_ERRORS.get(code) if isinstance(code, str) else None
    return f"{name} refused: {known}" if known else f"{name} refused: HTTP {response.status_code}"


class PartnerTopUpClient:
    """One-click activation: tops up the buyer's partner account with the order's keys."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str, policy: RetryPolicy) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/topups"
        self._api_key = api_key
        self._policy = policy

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        attempts = 0
        for k in keys:
            body = json.dumps({
                "account": target, "order_id": order_id, "key_id": k.secret.key_id,
                "sku_id": k.secret.sku_id, "code": k.secret.code, "password": k.secret.password,
            }).encode()
            idempotency_key = f"{order_id}:{k.secret.key_id}"

            def headers(key: str = idempotency_key) -> dict[str, str]:
                return {
                    "Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
                    "Idempotency-Key": key,
                }

            outcome = await post_with_retries(
                self._client, "partner", self._url, body, headers, self._policy, _named_refusal
            )
            attempts += outcome.attempts
            if isinstance(outcome, NotPosted):
                return ChannelAttempt(attempts, outcome.reason)
        return ChannelAttempt(attempts)


class SmsProviderClient:
    """The SMS channel through a provider's HTTP API (the local simulator in development and tests). Each
    text carries `out_id` (domain.sms.sms_out_id: one per order and number), so a provider that keeps
    caller ids sends it once, retried or re-sent after a crash; one that only echoes it (Aliyun's OutId,
    Tencent's SessionContext) makes the channel at-least-once (README, "Delivery channels")."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str, policy: RetryPolicy) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/messages"
        self._api_key = api_key
        self._policy = policy

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        body = json.dumps({
            "to": target, "text": sms_text(order_id, keys, instructions),
            "out_id": sms_out_id(order_id, target),
        }).encode()

        def headers() -> dict[str, str]:
            return {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}

        outcome = await post_with_retries(
            self._client, "sms provider", self._url, body, headers, self._policy, _named_refusal
        )
        return attempt_of(outcome)


class AppPushClient:
    """The app channel: a push to the buyer's device through the push service's HTTP API (the local
    simulator in development and tests); `target` is the device's push token."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str, policy: RetryPolicy) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/push"
        self._api_key = api_key
        self._policy = policy

    async def send(
        self, target: str, order_id: str, keys: Sequence[KeyToSend], instructions: Mapping[str, str]
    ) -> ChannelAttempt:
        body = json.dumps({"device": target, **push_message(order_id, keys)}).encode()

        def headers() -> dict[str, str]:
            # One push per order: a retry is the same push (the service drops a repeated collapse id).
            return {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
                    "Idempotency-Key": f"push:{order_id}"}

        outcome = await post_with_retries(
            self._client, "push service", self._url, body, headers, self._policy, _named_refusal
        )
        return attempt_of(outcome)
