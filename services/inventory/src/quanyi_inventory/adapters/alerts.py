"""The operator's alert channels: a signed webhook (aiohttp) and e-mail (aiosmtplib).

The webhook POSTs JSON {"type": "stock_low", "event_id", "sku_id", "available", "threshold",
"occurred_at"} with headers X-Quanyi-Event-Id, X-Quanyi-Timestamp (Unix seconds) and X-Quanyi-Signature
"sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body). A receiver recomputes it, refuses an old
timestamp, and ignores an event id it has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from email.message import EmailMessage

import aiohttp
import aiosmtplib

from quanyi_inventory.application.alerts import AlertFailed, StockAlert

SIGNATURE_HEADER = "X-Quanyi-Signature"
TIMESTAMP_HEADER = "X-Quanyi-Timestamp"
EVENT_ID_HEADER = "X-Quanyi-Event-Id"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def alert_body(alert: StockAlert) -> bytes:
    return json.dumps(
        {
            "type": "stock_low",
            "event_id": alert.event_id,
            "sku_id": alert.sku_id,
            "available": alert.available,
            "threshold": alert.threshold,
            "occurred_at": alert.occurred_at.isoformat(),
        },
        separators=(",", ":"),
    ).encode()


class WebhookChannel:
    """POSTs each alert, signed, to the operator's URL; anything but a 2xx answer is a failure."""

    def __init__(self, url: str, secret: bytes, timeout_s: float = 5.0) -> None:
        self._url = url
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, alert: StockAlert) -> None:
        body = alert_body(alert)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: alert.event_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            async with aiohttp.ClientSession(timeout=self._timeout) as session, session.post(
                self._url, data=body, headers=headers
            ) as response:
                if not 200 <= response.status < 300:
                    raise AlertFailed(f"stock alert webhook answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AlertFailed(f"stock alert webhook: {type(exc).__name__}") from exc


class EmailChannel:
    """E-mails each alert to the operator."""

    def __init__(self, host: str, port: int, sender: str, to: str, timeout_s: float = 10.0) -> None:
        self._host, self._port, self._sender, self._to, self._timeout = host, port, sender, to, timeout_s

    async def send(self, alert: StockAlert) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = self._to
        message["Subject"] = f"Low stock: SKU {alert.sku_id} has {alert.available} keys left"
        message["X-Quanyi-Event-Id"] = alert.event_id
        message.set_content(
            f"SKU {alert.sku_id} has {alert.available} available keys, at or below its threshold of"
            f" {alert.threshold} (as of {alert.occurred_at.isoformat()}).\n"
            "Import more keys into one of its pools to restock it.\n"
        )
        try:
            await aiosmtplib.send(message, hostname=self._host, port=self._port, timeout=self._timeout)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise AlertFailed(f"stock alert e-mail: {type(exc).__name__}") from exc
