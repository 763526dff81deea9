"""The simulator delivers a notice like a real provider: a dropped connection is retried, re-signed."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from quanyi_gateway import psp_sim


class DroppingWebhook:
    """A real HTTP server on loopback that closes the first `drop` connections without answering."""

    def __init__(self, drop: int) -> None:
        self.drop = drop
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
        body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append((headers, body))
        if len(self.requests) <= self.drop:
            writer.close()
            return
        answer = b'{"code":"SUCCESS"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(answer)).encode()
            + b"\r\n\r\n"
            + answer
        )
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/payments/psp-sim/notify"

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> psp_sim.RSAPrivateKey:
    private, _ = psp_sim.generate_keypair(Path(tmp_path_factory.mktemp("psp")))
    return psp_sim.load_private_key(private)


async def test_a_notice_whose_connection_dropped_is_delivered_again_with_a_fresh_signature(
    key: psp_sim.RSAPrivateKey,
) -> None:
    notice = psp_sim.signed_notice(key, "sim", "o-1", 1990, "CNY")
    webhook = DroppingWebhook(drop=1)
    async with webhook as url, aiohttp.ClientSession() as session:
        status, text = await psp_sim.deliver(session, url, key, "sim", notice)
    assert (status, text) == (200, '{"code":"SUCCESS"}')
    (first, first_body), (second, second_body) = webhook.requests
    assert first_body == second_body == notice.body  # same notice and transaction ids
    assert first["x-psp-nonce"] != second["x-psp-nonce"]  # a fresh nonce: the first may have been seen
    message = f"{second['x-psp-timestamp']}\n{second['x-psp-nonce']}\n".encode() + second_body + b"\n"
    key.public_key().verify(
        base64.b64decode(second["x-psp-signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


async def test_a_webhook_that_never_answers_is_reported_after_the_last_attempt(
    key: psp_sim.RSAPrivateKey,
) -> None:
    notice = psp_sim.signed_notice(key, "sim", "o-2", 1990, "CNY")
    webhook = DroppingWebhook(drop=10)
    async with webhook as url, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await psp_sim.deliver(session, url, key, "sim", notice, attempts=3)
    assert len(webhook.requests) == 3
