import hashlib
import time
import uuid

import jwt
import pytest
from quanyi_gateway import security
from quanyi_gateway.security import (
    PartnerAuthError,
    PartnerAuthFailure,
    PartnerRequest,
    authenticate_partner,
    partner_signature,
)

N = 2**10
NOW = 1_700_000_000.0
SECRETS = {"acme": "acme-secret"}


class FakeNonceStore:
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def remember(self, partner: str, nonce: str) -> bool:
        if (partner, nonce) in self.seen:
            return False
        self.seen.add((partner, nonce))
        return True


def request(
    secret: str = "acme-secret",
    ts: float = NOW,
    nonce: str = "n-1",
    body: bytes = b'{"code":"C"}',
    partner: str = "acme",
) -> PartnerRequest:
    timestamp = str(int(ts))
    return PartnerRequest(partner, timestamp, nonce, partner_signature(secret, timestamp, nonce, body), body)


async def refusal(req: PartnerRequest, nonces: FakeNonceStore | None = None) -> PartnerAuthFailure:
    with pytest.raises(PartnerAuthError) as caught:
        await authenticate_partner(req, SECRETS, nonces or FakeNonceStore(), NOW, 300)
    return caught.value.failure


def test_a_password_verifies_against_its_hash_and_a_wrong_one_does_not() -> None:
    encoded = security.hash_password("correct horse", N)
    assert security.verify_password("correct horse", encoded)
    assert not security.verify_password("correct horsE", encoded)


def test_each_hash_has_its_own_salt_and_names_its_cost() -> None:
    a, b = security.hash_password("same", N), security.hash_password("same", N)
    assert a != b
    assert a.startswith(f"scrypt${N}$8$1$")
    assert not security.needs_rehash(a, N)
    assert security.needs_rehash(a, N * 2)


def test_an_unreadable_hash_never_verifies() -> None:
    for encoded in ("", "plain", "scrypt$x$8$1$abc$def", "bcrypt$1$2$3$4$5"):
        assert not security.verify_password("anything", encoded)


SECRET = "a-token-secret-of-at-least-32-bytes!"
USER = uuid.UUID("00000000-0000-4000-8000-000000000001")


def test_an_access_token_carries_the_user_role_and_a_fresh_id_and_verifies_by_signature() -> None:
    now = int(time.time())
    t1 = security.issue_access_token(SECRET, USER, "a@example.com", "buyer", now, 3600)
    t2 = security.issue_access_token(SECRET, USER, "a@example.com", "buyer", now, 3600)
    c1, c2 = security.read_access_token(SECRET, t1), security.read_access_token(SECRET, t2)
    assert c1 is not None and c2 is not None
    assert (c1.user_id, c1.email, c1.role, c1.expires_at) == (USER, "a@example.com", "buyer", now + 3600)
    assert c1.jti != c2.jti


def test_a_token_signed_with_another_secret_tampered_or_expired_is_not_read() -> None:
    now = int(time.time())
    token = security.issue_access_token(SECRET, USER, "a@example.com", "buyer", now, 3600)
    assert security.read_access_token("another-secret-of-at-least-32-bytes", token) is None
    header, _payload, signature = token.split(".")
    forged = security.issue_access_token(SECRET, USER, "a@example.com", "admin", now, 3600).split(".")[1]
    assert security.read_access_token(SECRET, f"{header}.{forged}.{signature}") is None
    expired = security.issue_access_token(SECRET, USER, "a@example.com", "buyer", now - 4000, 3600)
    assert security.read_access_token(SECRET, expired) is None
    for junk in ("", "not-a-token", "a.b.c"):
        assert security.read_access_token(SECRET, junk) is None


def test_a_token_with_the_none_algorithm_is_refused() -> None:
    unsigned = jwt.encode(
        {"iss": security.TOKEN_ISSUER, "sub": str(USER), "email": "a@example.com", "role": "admin",
         "jti": "j", "iat": int(time.time()), "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    )
    assert security.read_access_token(SECRET, unsigned) is None


def test_the_partner_signature_is_hex_hmac_sha256_of_timestamp_nonce_and_body() -> None:
    import hmac

    expected = hmac.new(b"k", b"1\nn\nbody", hashlib.sha256).hexdigest()
    assert partner_signature("k", "1", "n", b"body") == expected


async def test_a_correctly_signed_fresh_request_is_accepted_and_its_nonce_remembered() -> None:
    nonces = FakeNonceStore()
    await authenticate_partner(request(), SECRETS, nonces, NOW, 300)
    assert nonces.seen == {("acme", "n-1")}


async def test_an_uppercase_hex_signature_is_accepted() -> None:
    r = request()
    upper = PartnerRequest(r.partner, r.timestamp, r.nonce, (r.signature or "").upper(), r.body)
    await authenticate_partner(upper, SECRETS, FakeNonceStore(), NOW, 300)


async def test_a_request_signed_with_another_secret_is_refused_and_burns_no_nonce() -> None:
    nonces = FakeNonceStore()
    assert await refusal(request(secret="wrong"), nonces) is PartnerAuthFailure.BAD_SIGNATURE
    assert nonces.seen == set()


async def test_a_tampered_body_is_refused() -> None:
    r = request()
    tampered = PartnerRequest(r.partner, r.timestamp, r.nonce, r.signature, b'{"code":"D"}')
    assert await refusal(tampered) is PartnerAuthFailure.BAD_SIGNATURE


async def test_an_unknown_partner_looks_like_a_bad_signature() -> None:
    assert await refusal(request(partner="nobody")) is PartnerAuthFailure.BAD_SIGNATURE


@pytest.mark.parametrize("skew", [-301, 301])
async def test_a_timestamp_more_than_300_seconds_off_is_stale(skew: int) -> None:
    assert await refusal(request(ts=NOW + skew)) is PartnerAuthFailure.STALE


@pytest.mark.parametrize("skew", [-300, 300])
async def test_a_timestamp_within_300_seconds_is_fresh(skew: int) -> None:
    await authenticate_partner(request(ts=NOW + skew), SECRETS, FakeNonceStore(), NOW, 300)


async def test_a_nonce_is_accepted_once_per_partner() -> None:
    nonces = FakeNonceStore()
    await authenticate_partner(request(), SECRETS, nonces, NOW, 300)
    assert await refusal(request(), nonces) is PartnerAuthFailure.REPLAY
    await authenticate_partner(request(nonce="n-2"), SECRETS, nonces, NOW, 300)


async def test_missing_headers_or_a_non_numeric_timestamp_are_refused() -> None:
    body = b"{}"
    assert await refusal(PartnerRequest("acme", None, "n", "sig", body)) is PartnerAuthFailure.UNSIGNED
    assert await refusal(PartnerRequest("acme", "1", "n", None, body)) is PartnerAuthFailure.UNSIGNED
    assert await refusal(PartnerRequest("acme", "1", "n" * 129, "sig", body)) is PartnerAuthFailure.UNSIGNED
    assert await refusal(PartnerRequest("acme", "soon", "n", "sig", body)) is PartnerAuthFailure.STALE


async def test_a_non_ascii_signature_is_a_bad_signature_not_an_error() -> None:
    r = request()
    odd = PartnerRequest(r.partner, r.timestamp, r.nonce, "é" * 64, r.body)
    assert await refusal(odd) is PartnerAuthFailure.BAD_SIGNATURE
