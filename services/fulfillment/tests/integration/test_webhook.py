"""The signed outbound webhook against a real HTTP receiver (aiohttp on a local port): what it receives is
signed and verifies, passing failures are retried with backoff until they pass or the attempts run out,
a refusal is not retried, and no reason names the URL or a key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from quanyi_fulfillment.adapters.http_retry import RetryPolicy
from quanyi_fulfillment.adapters.webhook_client import NotPosted, Posted, WebhookClient
from quanyi_fulfillment.domain.delivery import KeyToSend, RevealedSecret
from quanyi_fulfillment.domain.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    delivery_id,
    verify,
    webhook_body,
)
from quanyi_platform.infra.ports import free_port

SECRET = b"whsec-test-secret"


@dataclass
class Receiver:
    """A buyer's endpoint: answers each request with the next scripted status (then 200)."""

    url: str
    script: list[int | str] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    box = Receiver(f"http://127.0.0.1:{port}/hooks/quanyi")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        box.received.append((dict(request.headers), body))
        step = box.script.pop(0) if box.script else 200
        if step == "hang":
            await asyncio.sleep(1)
            step = 200
        return web.Response(status=int(step))

    app = web.Application()
    app.router.add_post("/hooks/quanyi", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield box
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def keys() -> list[KeyToSend]:
    return [
        KeyToSend(1, 1, RevealedSecret("k1", "sku-a", "CODE-AAAA-1111", "pw1")),
        KeyToSend(1, 2, RevealedSecret("k2", "sku-a", "CODE-BBBB-2222")),
    ]


def client(http: httpx.AsyncClient, **kwargs: float) -> Callable[..., WebhookClient]:
    def make(**more: float) -> WebhookClient:
        options = {"base_s": 0.01, "cap_s": 0.05, "timeout_s": 1.0} | kwargs | more
        return WebhookClient(http, SECRET, **options)  # type: ignore[arg-type]
    return make


async def test_a_webhook_arrives_signed_with_the_keys_and_instructions_and_verifies(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    body = webhook_body("o-1", keys(), {"sku-a": "Redeem at https://partner.example/redeem"})

    outcome = await client(http)().post(receiver.url, body, delivery_id("o-1"))

    assert outcome == Posted(1)
    [(headers, received)] = receiver.received
    assert received == body
    assert headers[DELIVERY_HEADER] == "o-1:webhook"
    assert headers["Content-Type"] == "application/json"
    assert verify(SECRET, headers[SIGNATURE_HEADER], received, int(time.time()))
    assert not verify(b"another-secret", headers[SIGNATURE_HEADER], received, int(time.time()))
    assert not verify(SECRET, headers[SIGNATURE_HEADER], received + b" ", int(time.time()))
    assert not verify(SECRET, headers[SIGNATURE_HEADER], received, int(time.time()) + 3600)  # replayed late
    document = json.loads(received)
    assert [(k["code"], k["instructions"]) for k in document["keys"]] == [
        ("CODE-AAAA-1111", "Redeem at https://partner.example/redeem"),
        ("CODE-BBBB-2222", "Redeem at https://partner.example/redeem"),
    ]


async def test_5xx_429_and_timeouts_are_retried_with_backoff_until_the_receiver_takes_it(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    receiver.script = [503, 429, "hang", 500]
    body = webhook_body("o-2", keys())

    outcome = await client(http, timeout_s=0.3)().post(receiver.url, body, delivery_id("o-2"))

    assert outcome == Posted(5)
    assert len(receiver.received) == 5
    signatures = {h[SIGNATURE_HEADER] for h, _ in receiver.received}
    assert all(verify(SECRET, s, body, int(time.time())) for s in signatures)
    assert {h[DELIVERY_HEADER] for h, _ in receiver.received} == {"o-2:webhook"}  # one id for the repeats


async def test_a_receiver_down_past_the_last_attempt_gives_up_with_a_reason_without_url_or_key(
    http: httpx.AsyncClient,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/secret-path-of-the-buyer"  # nothing listens
    started = time.monotonic()

    outcome = await client(http)(max_attempts=4).post(url, webhook_body("o-3", keys()), delivery_id("o-3"))

    assert isinstance(outcome, NotPosted) and outcome.attempts == 4
    assert outcome.reason.startswith("webhook unreachable")
    assert "secret-path" not in outcome.reason and "CODE-" not in outcome.reason
    assert time.monotonic() - started < 5  # waits are capped (cap_s)


async def test_a_4xx_refusal_is_not_retried_and_a_5xx_to_the_end_gives_up(
    receiver: Receiver, http: httpx.AsyncClient
) -> None:
    receiver.script = [404]
    refused = await client(http)().post(receiver.url, webhook_body("o-4", keys()), delivery_id("o-4"))
    assert refused == NotPosted(1, "webhook refused: HTTP 404")
    assert len(receiver.received) == 1

    receiver.script = [500, 500, 500]
    failed = await client(http)(max_attempts=3).post(receiver.url, webhook_body("o-5", keys()), "o-5:webhook")
    assert failed == NotPosted(3, "webhook answered HTTP 500")
    assert len(receiver.received) == 4


async def test_a_url_that_is_not_http_is_refused_at_once(http: httpx.AsyncClient) -> None:
    outcome = await client(http)().post("ftp://example.invalid/x", b"{}", "o-6:webhook")
    assert outcome == NotPosted(1, "webhook URL is not an http(s) URL")


async def test_no_attempt_starts_after_the_total_time_whatever_attempts_are_left(http: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/down"  # nothing listens
    policy = RetryPolicy(max_attempts=10_000, base_s=0.02, cap_s=0.05, timeout_s=1.0, total_s=0.5)
    started = time.monotonic()

    outcome = await WebhookClient(http, SECRET, policy=policy).post(url, b"{}", "o-7:webhook")

    assert isinstance(outcome, NotPosted) and 1 < outcome.attempts < 10_000
    assert time.monotonic() - started < 3
