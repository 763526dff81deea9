"""Sending delivery e-mail over SMTP on a few kept-open connections (aiosmtplib, on the event loop).

With `starttls` each connection upgrades to TLS (certificates validated, against `cert_bundle` when given)
before anything else is said, and fails rather than go on in the clear; with `username` it then logs in
(AUTH). Authentication without STARTTLS is refused at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from quanyi_fulfillment.application.ports import MailNotSent
from quanyi_fulfillment.domain.mail import MailContent

log = logging.getLogger(__name__)

# Lines the fast path writes as they are: printable ASCII (tabs in the body), within SMTP's line limit.
_PLAIN_HEADER = re.compile(r"[ -~]{1,998}")
_PLAIN_BODY_LINE = re.compile(r"[\t -~]{0,998}")

# What a kept-open connection that the server (or the network) dropped while idle fails with.
_STALE = (aiosmtplib.SMTPServerDisconnected, ConnectionError)


def _reason(exc: BaseException) -> str:
    """Why a send failed, from the exception's type and SMTP code only: never its text, which could
    quote the message."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "smtp: recipient refused"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"smtp: {type(exc).__name__} {exc.code}"
    if isinstance(exc, TimeoutError):
        return "smtp: timed out"
    if isinstance(exc, OSError):
        return f"smtp: server unreachable ({type(exc).__name__})"
    return f"smtp: {type(exc).__name__}"


class SmtpMailer:
    """Hands messages to one SMTP server over at most `connections` connections at once, kept open from
    one message to the next and closed once none has been used for `idle_close_s` seconds.

    A message waits for a free connection (so at most `connections` are sent at once) and goes out on
    the most recently used open one, or on a new one. A connection on which anything failed is closed;
    a kept-open connection found dropped is replaced once at once (the server may close idle ones).
    `send` returns once the server accepted the message; any failure becomes MailNotSent with a reason
    that holds no key (the original exception is dropped, not chained, for the same reason).
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout_s: float,
        *,
        connections: int = 4,
        idle_close_s: float = 5.0,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        validate_certs: bool = True,
        cert_bundle: str = "",
    ) -> None:
        if username and not starttls:
            raise ValueError("SMTP authentication needs STARTTLS: a password is never sent in the clear")
        self._starttls = starttls
        self._username = username or None
        self._password = password or None
        self._validate_certs = validate_certs
        self._cert_bundle = cert_bundle or None
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_from = parseaddr(sender)[1]
        self._timeout_s = timeout_s
        self._idle_close_s = idle_close_s
        self._slots = asyncio.Semaphore(max(1, connections))
        self._open: list[aiosmtplib.SMTP] = []  # connected and free, most recently used last
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._local_hostname: str | None = None
        self.connects = 0  # connections opened so far (for tests and metrics)

    @property
    def open_connections(self) -> int:
        """Connections open and free now."""
        return len(self._open)

    async def send(self, to: str, content: MailContent) -> None:
        try:
            message: bytes | EmailMessage | None = self._wire(to, content)
            recipient = parseaddr(to)[1]
            if message is None or not recipient or not self._envelope_from:
                message = self._build(to, content)
        except Exception as exc:
            raise MailNotSent(_reason(exc)) from None
        async with self._slots:
            self._busy += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            try:
                await self._send_on_a_connection(message, recipient)
            finally:
                self._busy -= 1
                if self._busy == 0 and self._open:
                    self._idle_timer = asyncio.get_running_loop().call_later(
                        self._idle_close_s, self._close_idle
                    )

    async def aclose(self) -> None:
        """Close every open connection (QUIT, then drop)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._close_idle()
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _hand_over(self, smtp: aiosmtplib.SMTP, message: bytes | EmailMessage, recipient: str) -> None:
        if isinstance(message, bytes):
            await smtp.sendmail(self._envelope_from, [recipient], message)
        else:
            await smtp.send_message(message)

    async def _send_on_a_connection(self, message: bytes | EmailMessage, recipient: str) -> None:
        while self._open:
            smtp = self._open.pop()
            if not smtp.is_connected:
                continue
            try:
                await self._hand_over(smtp, message, recipient)
            except _STALE:
                smtp.close()  # dropped while idle: the message goes out on a new connection
                break
            except Exception as exc:
                smtp.close()
                raise MailNotSent(_reason(exc)) from None
            except BaseException:  # cancelled mid-conversation: the connection's state is unknown
                smtp.close()
                raise
            self._open.append(smtp)
            return
        smtp = await self._connect()
        try:
            await self._hand_over(smtp, message, recipient)
        except Exception as exc:
            smtp.close()
            raise MailNotSent(_reason(exc)) from None
        except BaseException:
            smtp.close()
            raise
        self._open.append(smtp)

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)  # may ask DNS: off the loop
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout_s,
            local_hostname=self._local_hostname,
            start_tls=self._starttls,  # True: required, the connection fails without it; False: never
            use_tls=False,
            username=self._username,  # logged in after STARTTLS, on every new connection
            password=self._password,
            validate_certs=self._validate_certs,
            cert_bundle=self._cert_bundle,
        )
        try:
            await smtp.connect()
        except Exception as exc:
            smtp.close()
            raise MailNotSent(_reason(exc)) from None
        except BaseException:
            smtp.close()
            raise
        self.connects += 1
        return smtp

    def _close_idle(self) -> None:
        self._idle_timer = None
        closing, self._open = self._open, []
        for smtp in closing:
            task = asyncio.get_running_loop().create_task(self._quit(smtp))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.quit(timeout=min(self._timeout_s, 5.0))
        except Exception as exc:  # the server went first: nothing to do
            log.debug("smtp quit failed", extra={"error": type(exc).__name__})
        finally:
            smtp.close()

    def _wire(self, to: str, content: MailContent) -> bytes | None:
        """The message as it goes on the wire, built directly when it is plain ASCII text (the usual
        case: the email package's header objects cost several times more than the rest of a send);
        None when anything in it needs encoding, for `_build` to do."""
        headers = (
            ("From", self._sender),
            ("To", to),
            ("Subject", content.subject),
            ("Date", formatdate(usegmt=True)),
            ("Message-ID", make_msgid(domain="quanyi.local")),
            ("MIME-Version", "1.0"),
            ("Content-Type", 'text/plain; charset="us-ascii"'),
            ("Content-Transfer-Encoding", "7bit"),
        )
        lines = [f"{name}: {value}" for name, value in headers]
        if not all(_PLAIN_HEADER.fullmatch(line) for line in lines):
            return None
        body = content.body.removesuffix("\n").split("\n")
        if not all(_PLAIN_BODY_LINE.fullmatch(line) for line in body):
            return None
        return "\r\n".join([*lines, "", *body, ""]).encode("ascii")

    def _build(self, to: str, content: MailContent) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = content.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="quanyi.local")
        message.set_content(content.body)
        return message
