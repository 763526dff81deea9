"""The mailer over STARTTLS with authentication, against a real aiosmtpd server that requires both (a
self-signed certificate for 127.0.0.1, trusted through the mailer's CA file)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from quanyi_fulfillment.adapters.smtp_mailer import SmtpMailer
from quanyi_fulfillment.application.ports import MailNotSent
from quanyi_fulfillment.domain.mail import MailContent
from quanyi_platform.infra.ports import free_port

USER, PASSWORD = "quanyi-mailer", "correct horse battery staple"


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "smtp.pem", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.tls: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        self.tls.append(session.ssl is not None)
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers the 535 itself


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Inbox, Path]]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=_authenticate, auth_require_tls=True, auth_required=True,
    )
    controller.start()
    try:
        yield port, inbox, cert
    finally:
        controller.stop()


def mailer(port: int, **options: Any) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, "quanyi <no-reply@quanyi.local>", 5.0, **options)


CONTENT = MailContent("Your order o-1", "Code: GOLD-0001\n")


async def test_starttls_then_auth_delivers_over_tls(tls_server: tuple[int, Inbox, Path]) -> None:
    port, inbox, cert = tls_server
    sender = mailer(port, starttls=True, username=USER, password=PASSWORD, cert_bundle=str(cert))
    try:
        await sender.send("buyer@example.com", CONTENT)
    finally:
        await sender.aclose()
    assert inbox.tls == [True]
    assert b"GOLD-0001" in inbox.messages[0]


async def test_a_wrong_password_an_untrusted_certificate_or_no_starttls_fail_without_sending(
    tls_server: tuple[int, Inbox, Path],
) -> None:
    port, inbox, cert = tls_server
    cases = [
        (dict(starttls=True, username=USER, password="wrong", cert_bundle=str(cert)), "smtp: SMTPAuthenticationError"),
        (dict(starttls=True, username=USER, password=PASSWORD), "smtp:"),  # self-signed: not trusted
        (dict(starttls=False), "smtp:"),  # the server requires STARTTLS and AUTH
    ]
    for options, reason in cases:
        sender = mailer(port, **options)
        try:
            with pytest.raises(MailNotSent) as failed:
                await sender.send("buyer@example.com", CONTENT)
        finally:
            await sender.aclose()
        assert failed.value.reason.startswith(reason), failed.value.reason
        assert PASSWORD not in failed.value.reason and "wrong" not in failed.value.reason
    assert inbox.messages == []


def test_authentication_without_starttls_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="STARTTLS"):
        mailer(25, username=USER, password=PASSWORD)
