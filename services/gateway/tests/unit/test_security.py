import hashlib

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


def test_tokens_are_random_url_safe_and_stored_as_their_sha256() -> None:
    t1, t2 = security.new_token(), security.new_token()
    assert t1 != t2
    assert len(t1) == 43 and all(c.isalnum() or c in "-_" for c in t1)
    assert security.token_digest(t1) == hashlib.sha256(t1.encode()).digest()
    assert len(security.token_digest(t1)) == 32


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
