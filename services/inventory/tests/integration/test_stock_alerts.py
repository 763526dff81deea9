"""StockLow reaches the operator: by e-mail and by a webhook signed with their secret, once per crossing,
again (same event id) when a channel failed."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import envelope_pb2
from quanyi.inventory.v1 import events_pb2 as events
from quanyi_inventory.adapters.alerts import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EmailChannel,
    WebhookChannel,
    sign,
)
from quanyi_inventory.entrypoints.consumers import stock_low_handler
from quanyi_platform.consumer import ReceivedEvent, TransientError
from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.smtp import CapturingSmtpServer

from .conftest import Pay, StockSku, order_paid

SECRET = b"operator-webhook-secret"


class Receiver:
    """The operator's webhook endpoint: records what it gets; answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/stock", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield hook, f"http://127.0.0.1:{port}/hooks/stock"
    finally:
        await runner.cleanup()


@pytest.fixture
def smtp() -> Any:
    server = CapturingSmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def stock_low_events(pool: AsyncConnectionPool) -> list[ReceivedEvent]:
    """The StockLow events of the store, as the alert consumer receives them from the topic."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT envelope FROM events WHERE event_type = %s ORDER BY seq",
                                 (events.StockLow.DESCRIPTOR.full_name,))
        found = []
        for row in await cur.fetchall():
            envelope = envelope_pb2.Envelope.FromString(bytes(row["envelope"]))
            found.append(ReceivedEvent(envelope, events.StockLow.FromString(envelope.payload),
                                       "quanyi.inventory.v1", 0, 0))
        return found


async def test_a_stock_low_reaches_the_operator_by_signed_webhook_and_by_e_mail(
    stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool, receiver: tuple[Receiver, str], smtp: Any
) -> None:
    hook, url = receiver
    sku = await stock_sku(["K-1", "K-2", "K-3"], threshold=1)
    await pay(order_paid("o-1", [(sku, 1)]))
    assert await stock_low_events(pool) == []
    await pay(order_paid("o-2", [(sku, 1)]), order_paid("o-3", [(sku, 1)]))
    [low] = await stock_low_events(pool)  # once per crossing, though two sales went below
    handler = stock_low_handler([
        WebhookChannel(url, SECRET), EmailChannel(smtp.host, smtp.port, "alerts@shop.example", "ops@shop.example"),
    ])
    async with pool.connection() as conn:
        await handler.apply(conn, [low])

    [(headers, body)] = hook.received
    assert headers[SIGNATURE_HEADER] == sign(SECRET, headers[TIMESTAMP_HEADER], body)
    assert not hmac.compare_digest(headers[SIGNATURE_HEADER], sign(b"another secret", headers[TIMESTAMP_HEADER], body))
    assert headers[EVENT_ID_HEADER] == low.event_id
    payload = json.loads(body)
    assert (payload["type"], payload["sku_id"], payload["available"], payload["threshold"]) == (
        "stock_low", sku, 0, 1
    )
    [mail] = smtp.messages
    assert mail["To"] == "ops@shop.example" and sku in mail["Subject"]
    assert mail["X-Quanyi-Event-Id"] == low.event_id


async def test_a_webhook_that_fails_makes_the_alert_retry_with_the_same_event_id(
    stock_sku: StockSku, pay: Pay, pool: AsyncConnectionPool, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    sku = await stock_sku(["K-1"], threshold=1)
    await pay(order_paid("o-1", [(sku, 1)]))
    [low] = await stock_low_events(pool)
    handler = stock_low_handler([WebhookChannel(url, SECRET)])
    hook.status = 503
    with pytest.raises(TransientError):
        async with pool.connection() as conn:
            await handler.apply(conn, [low])
    hook.status = 204
    async with pool.connection() as conn:
        await handler.apply(conn, [low])
    assert [h[EVENT_ID_HEADER] for h, _ in hook.received] == [low.event_id] * 2
