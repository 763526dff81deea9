import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from quanyi_orders.adapters.psp_notice import MalformedNotice, parse_notice
from quanyi_orders.adapters.psp_signature import NoticeRejected, NoticeVerifier, load_public_key, sign_notice
from quanyi_orders.domain.money import Money

NOW = 1_700_000_000
BODY = json.dumps({
    "notice_id": "n-1", "order_id": "o-1", "txn_id": "t-1", "status": "SUCCESS",
    "amount": {"minor_units": 3990, "currency": "CNY"},
}).encode()


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def psp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(psp_key: rsa.RSAPrivateKey) -> NoticeVerifier:
    return NoticeVerifier("psp-sim", load_public_key(pem=public_pem(psp_key)), 300, clock=lambda: NOW)


@pytest.fixture
def sign(psp_key: rsa.RSAPrivateKey) -> Callable[..., str]:
    return lambda body=BODY, ts=NOW, nonce="abc": sign_notice(private_pem(psp_key), body, ts, nonce)


def test_a_notice_signed_with_the_providers_key_verifies(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    verifier.verify("psp-sim", BODY, sign(), str(NOW), "abc")


def test_a_notice_with_a_tampered_body_is_rejected(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    with pytest.raises(NoticeRejected, match="bad signature"):
        verifier.verify("psp-sim", BODY.replace(b"3990", b"1"), sign(), str(NOW), "abc")


def test_a_notice_with_another_nonce_than_signed_is_rejected(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    with pytest.raises(NoticeRejected, match="bad signature"):
        verifier.verify("psp-sim", BODY, sign(), str(NOW), "other")


def test_a_notice_signed_with_another_key_is_rejected(verifier: NoticeVerifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signature = sign_notice(private_pem(other), BODY, NOW, "abc")
    with pytest.raises(NoticeRejected, match="bad signature"):
        verifier.verify("psp-sim", BODY, signature, str(NOW), "abc")


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_notice_older_or_newer_than_the_allowed_skew_is_rejected(
    verifier: NoticeVerifier, sign: Callable[..., str], age: int
) -> None:
    ts = NOW - age
    with pytest.raises(NoticeRejected, match="timestamp"):
        verifier.verify("psp-sim", BODY, sign(ts=ts), str(ts), "abc")


def test_a_notice_just_within_the_skew_is_accepted(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    ts = NOW - 300
    verifier.verify("psp-sim", BODY, sign(ts=ts), str(ts), "abc")


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA"])
def test_a_missing_or_garbled_signature_is_rejected(verifier: NoticeVerifier, signature: str) -> None:
    with pytest.raises(NoticeRejected):
        verifier.verify("psp-sim", BODY, signature, str(NOW), "abc")


def test_a_notice_without_a_nonce_or_timestamp_is_rejected(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    with pytest.raises(NoticeRejected):
        verifier.verify("psp-sim", BODY, sign(), str(NOW), "")
    with pytest.raises(NoticeRejected):
        verifier.verify("psp-sim", BODY, sign(), "", "abc")
    with pytest.raises(NoticeRejected):
        verifier.verify("psp-sim", BODY, sign(), "yesterday", "abc")


def test_a_notice_from_another_provider_is_rejected(
    verifier: NoticeVerifier, sign: Callable[..., str]
) -> None:
    with pytest.raises(NoticeRejected, match="provider"):
        verifier.verify("alipay", BODY, sign(), str(NOW), "abc")


def test_without_a_configured_key_every_notice_is_rejected(sign: Callable[..., str]) -> None:
    with pytest.raises(NoticeRejected, match="no provider key"):
        NoticeVerifier("psp-sim", None, clock=lambda: NOW).verify("psp-sim", BODY, sign(), str(NOW), "abc")


def test_the_public_key_can_come_from_a_file(psp_key: rsa.RSAPrivateKey, tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "psp.pem"
    path.write_text(public_pem(psp_key))
    assert load_public_key(path=str(path)) is not None
    assert load_public_key() is None


def test_a_notice_body_is_read_into_a_payment_notice() -> None:
    notice = parse_notice(BODY)
    assert (notice.notice_id, notice.order_id, notice.txn_id) == ("n-1", "o-1", "t-1")
    assert notice.amount == Money(3990, "CNY")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"notice_id": "n", "order_id": "o", "txn_id": "t", "status": "CLOSED",'
        b' "amount": {"minor_units": 1, "currency": "CNY"}}',
        b'{"notice_id": "n", "order_id": "o", "txn_id": "t", "status": "SUCCESS",'
        b' "amount": {"minor_units": "1", "currency": "CNY"}}',
        b'{"notice_id": "n", "order_id": "", "txn_id": "t", "status": "SUCCESS",'
        b' "amount": {"minor_units": 1, "currency": "CNY"}}',
        b'{"notice_id": "n", "order_id": "o", "txn_id": "t", "status": "SUCCESS", "amount": 1}',
    ],
)
def test_a_malformed_notice_body_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedNotice):
        parse_notice(body)
