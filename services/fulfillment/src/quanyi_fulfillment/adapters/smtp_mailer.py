"""Sending delivery e-mail over SMTP with the standard library (aiosmtplib is not a dependency)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from quanyi_fulfillment.application.ports import MailNotSent
from quanyi_fulfillment.domain.mail import MailContent


def _reason(exc: BaseException) -> str:
    """Why a send failed, from the exception's type and SMTP code only: never its text, which could
    quote the message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "smtp: recipient refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"smtp: {type(exc).__name__} {exc.smtp_code}"
    if isinstance(exc, TimeoutError):
        return "smtp: timed out"
    if isinstance(exc, OSError):
        return f"smtp: server unreachable ({type(exc).__name__})"
    return f"smtp: {type(exc).__name__}"


class SmtpMailer:
    """One SMTP connection per message, run in a worker thread so the event loop never blocks.

    `send` returns once the server accepted the message; any failure becomes MailNotSent with a reason
    that holds no key (the original exception is dropped, not chained, for the same reason).
    """

    def __init__(self, host: str, port: int, sender: str, timeout_s: float) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout_s = timeout_s

    async def send(self, to: str, content: MailContent) -> None:
        try:
            message = self._build(to, content)
            await asyncio.to_thread(self._send_now, message)
        except Exception as exc:
            raise MailNotSent(_reason(exc)) from None

    def _build(self, to: str, content: MailContent) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = content.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="quanyi.local")
        message.set_content(content.body)
        return message

    def _send_now(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
            smtp.send_message(message)
