"""Local SMTP servers: a Maildir drop for ``make run`` and an in-memory capture for tests.

Neither ever logs message content: aiosmtpd itself logs every DATA line at DEBUG level, so a filter on
its ``mail.log`` logger drops those records.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import mailbox
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from aiosmtpd.controller import Controller

from quanyi_platform.infra.lifecycle import StartStop
from quanyi_platform.infra.ports import free_port

__all__ = ["CapturingSmtpServer", "Delivery", "MaildirSmtpServer"]

log = logging.getLogger(__name__)

# aiosmtpd log formats whose arguments carry message content.
_CONTENT_FORMATS = frozenset({"DATA readline: %s", "_handle_client readline: %r"})


class _DropMessageContent(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in _CONTENT_FORMATS


_filter_lock = threading.Lock()


def _silence_content_logging() -> None:
    logger = logging.getLogger("mail.log")
    with _filter_lock:
        if not any(isinstance(f, _DropMessageContent) for f in logger.filters):
            logger.addFilter(_DropMessageContent())


class _Envelope(Protocol):
    mail_from: str | None
    rcpt_tos: list[str]
    content: bytes | str | None
    original_content: bytes | None


def _raw_content(envelope: _Envelope) -> bytes:
    raw = envelope.original_content if envelope.original_content is not None else envelope.content
    if raw is None:
        return b""
    return raw if isinstance(raw, bytes) else raw.encode("utf-8", errors="surrogateescape")


@dataclass(frozen=True)
class Delivery:
    """One accepted message with its SMTP envelope."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _SmtpServerBase(StartStop):
    def __init__(self, host: str, port: int | None) -> None:
        self._host = host
        self._port = port if port is not None else free_port(host)
        self._controller: Controller | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    async def handle_DATA(self, server: Any, session: Any, envelope: _Envelope) -> str:
        raise NotImplementedError

    def start(self) -> None:
        """Start accepting connections (in a thread of its own) on ``host:port``."""
        if self._controller is not None:
            return
        _silence_content_logging()
        controller = Controller(
            self, hostname=self._host, port=self._port, server_hostname="localhost", ready_timeout=10.0
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()



class MaildirSmtpServer(_SmtpServerBase):
    """Stores each accepted message as one file in the Maildir ``maildir`` (created when missing)."""

    def __init__(self, maildir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(host, port)
        self._maildir_path = Path(maildir)
        self._maildir = mailbox.Maildir(self._maildir_path, create=True)
        self._lock = threading.Lock()

    @property
    def maildir(self) -> Path:
        return self._maildir_path

    def _store(self, raw: bytes) -> str:
        with self._lock:
            return self._maildir.add(raw)

    async def handle_DATA(self, server: Any, session: Any, envelope: _Envelope) -> str:
        key = await asyncio.to_thread(self._store, _raw_content(envelope))
        log.info("stored mail %s for %d recipient(s)", key, len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class CapturingSmtpServer(_SmtpServerBase):
    """Keeps every accepted message in memory, for tests. Thread-safe."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(host, port)
        self._condition = threading.Condition()
        self._deliveries: list[Delivery] = []

    @property
    def messages(self) -> list[EmailMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._condition:
            return [d.message for d in self._deliveries]

    @property
    def deliveries(self) -> list[Delivery]:
        """A snapshot of the messages received so far with their envelopes, oldest first."""
        with self._condition:
            return list(self._deliveries)

    def clear(self) -> None:
        with self._condition:
            self._deliveries.clear()

    async def handle_DATA(self, server: Any, session: Any, envelope: _Envelope) -> str:
        message = email.message_from_bytes(_raw_content(envelope), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        delivery = Delivery(envelope.mail_from or "", tuple(envelope.rcpt_tos), message)
        with self._condition:
            self._deliveries.append(delivery)
            self._condition.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool] = lambda _m: True, timeout: float = 10.0
    ) -> EmailMessage:
        """The first message (already received or arriving within ``timeout`` s) matching ``predicate``.

        Blocks the calling thread: from a coroutine whose event loop also runs the sender, use
        ``await server.wait_for_async(...)`` instead. Raises ``TimeoutError``.
        """
        deadline = time.monotonic() + timeout
        checked = 0
        with self._condition:
            while True:
                for delivery in self._deliveries[checked:]:
                    if predicate(delivery.message):
                        return delivery.message
                checked = len(self._deliveries)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching mail within {timeout:.1f} s ({checked} message(s) received)"
                    )
                self._condition.wait(remaining)

    async def wait_for_async(
        self,
        predicate: Callable[[EmailMessage], bool] = lambda _m: True,
        timeout: float = 10.0,  # noqa: ASYNC109 - the wait happens in a worker thread, as in wait_for
    ) -> EmailMessage:
        """``wait_for`` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)
