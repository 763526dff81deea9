import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from quanyi_gateway import psp_sim


def verify(public: RSAPublicKey, headers: dict[str, str], body: bytes) -> None:
    message = f"{headers['X-Psp-Timestamp']}\n{headers['X-Psp-Nonce']}\n".encode() + body + b"\n"
    public.verify(base64.b64decode(headers["X-Psp-Signature"]), message, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return psp_sim.generate_keypair(tmp_path_factory.mktemp("keys"))


def public_key(path: Path) -> RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, RSAPublicKey)
    return key


def test_a_notice_verifies_with_the_public_key_written_beside_the_private_one(
    keypair: tuple[Path, Path],
) -> None:
    private, public = keypair
    notice = psp_sim.signed_notice(psp_sim.load_private_key(private), "serial-1", "o-1", 3998, "CNY")
    verify(public_key(public), notice.headers, notice.body)
    assert notice.headers["X-Psp-Serial"] == "serial-1"


def test_a_changed_body_no_longer_verifies(keypair: tuple[Path, Path]) -> None:
    private, public = keypair
    notice = psp_sim.signed_notice(psp_sim.load_private_key(private), "s", "o-1", 3998, "CNY")
    with pytest.raises(InvalidSignature):
        verify(public_key(public), notice.headers, notice.body.replace(b"3998", b"1"))


def test_the_notice_says_the_order_was_paid_in_minor_units(keypair: tuple[Path, Path]) -> None:
    notice = psp_sim.signed_notice(
        psp_sim.load_private_key(keypair[0]), "s", "o-1", 3998, "CNY", now=1_700_000_000
    )
    body = json.loads(notice.body)
    assert body == {
        "notice_id": notice.notice_id,
        "order_id": "o-1",
        "txn_id": notice.txn_id,
        "status": "SUCCESS",
        "amount": {"minor_units": 3998, "currency": "CNY"},
    }
    assert notice.txn_id.startswith("sim-")
    assert notice.headers["X-Psp-Timestamp"] == "1700000000"


def test_each_notice_has_its_own_nonce_and_ids(keypair: tuple[Path, Path]) -> None:
    key = psp_sim.load_private_key(keypair[0])
    a, b = (psp_sim.signed_notice(key, "s", "o-1", 1, "CNY") for _ in range(2))
    assert a.headers["X-Psp-Nonce"] != b.headers["X-Psp-Nonce"]
    assert (a.notice_id, a.txn_id) != (b.notice_id, b.txn_id)


def test_the_private_key_file_is_readable_by_its_owner_only(keypair: tuple[Path, Path]) -> None:
    assert stat.S_IMODE(keypair[0].stat().st_mode) == 0o600
