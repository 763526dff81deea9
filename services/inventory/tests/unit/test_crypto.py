import base64
import hmac
import json
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from quanyi_inventory.adapters.crypto import DecryptionFailed, Keyring, KeyringError, SealedKey
from quanyi_platform.config import DEV_MASTER_KEY

OLD = os.urandom(32)
NEW = os.urandom(32)


def keyring(active: str = "k1", fingerprint_key_id: str = "") -> Keyring:
    return Keyring({"k1": OLD, "k2": NEW}, active, fingerprint_key_id)


def test_a_sealed_key_opens_to_its_code_and_password() -> None:
    ring = keyring()
    data_key, wrapped = ring.new_data_key("batch-1")
    sealed = data_key.seal("key-1", "ABCD-1234", "pw")
    assert b"ABCD-1234" not in sealed.ciphertext
    assert len(sealed.nonce) == 12
    assert ring.unwrap(wrapped, "batch-1").open("key-1", sealed) == ("ABCD-1234", "pw")


def test_every_batch_gets_its_own_data_key_and_every_key_its_own_nonce() -> None:
    ring = keyring()
    key_a, wrapped_a = ring.new_data_key("batch-a")
    _, wrapped_b = ring.new_data_key("batch-b")
    assert wrapped_a.blob != wrapped_b.blob
    assert wrapped_a.master_key_id == "k1"
    first, second = key_a.seal("key-1", "SAME", ""), key_a.seal("key-1", "SAME", "")
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_a_ciphertext_does_not_open_under_another_key_id() -> None:
    data_key, _ = keyring().new_data_key("batch-1")
    sealed = data_key.seal("key-1", "ABCD-1234", "")
    with pytest.raises(DecryptionFailed) as caught:
        data_key.open("key-2", sealed)
    assert "ABCD" not in str(caught.value)


def test_a_tampered_ciphertext_does_not_open() -> None:
    data_key, _ = keyring().new_data_key("batch-1")
    sealed = data_key.seal("key-1", "ABCD-1234", "")
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionFailed):
        data_key.open("key-1", SealedKey(sealed.nonce, flipped))


def test_a_data_key_does_not_unwrap_with_the_wrong_master_key_or_batch() -> None:
    _, wrapped = keyring().new_data_key("batch-1")
    impostor = Keyring({"k1": os.urandom(32)}, "k1")
    with pytest.raises(DecryptionFailed):
        impostor.unwrap(wrapped, "batch-1")
    with pytest.raises(DecryptionFailed):
        keyring().unwrap(wrapped, "batch-2")


def test_a_data_key_wrapped_by_an_unconfigured_master_key_is_refused() -> None:
    _, wrapped = keyring().new_data_key("batch-1")
    with pytest.raises(KeyringError):
        Keyring({"k2": NEW}, "k2").unwrap(wrapped, "batch-1")


def test_rotation_rewraps_the_data_key_and_old_ciphertexts_still_open() -> None:
    before = keyring(active="k1")
    data_key, wrapped = before.new_data_key("batch-1")
    sealed = data_key.seal("key-1", "ABCD-1234", "secret")

    after = keyring(active="k2")
    rewrapped = after.rewrap(wrapped, "batch-1")
    assert rewrapped.master_key_id == "k2"
    assert rewrapped.blob != wrapped.blob
    only_new = Keyring({"k2": NEW}, "k2")
    assert only_new.unwrap(rewrapped, "batch-1").open("key-1", sealed) == ("ABCD-1234", "secret")


def test_fingerprints_are_equal_for_equal_codes_after_trimming_and_differ_by_case() -> None:
    ring = keyring()
    assert ring.fingerprint("ABC-1") == ring.fingerprint("  ABC-1\t")
    assert ring.fingerprint("ABC-1") != ring.fingerprint("abc-1")
    assert len(ring.fingerprint("ABC-1")) == 32


def test_a_fingerprint_is_hmac_sha256_of_the_code_under_the_key_derived_from_the_master_key() -> None:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"quanyi key fingerprint").derive(OLD)
    for code in ["ABC-1", "", "x" * 300, "卡密-Ω"]:
        assert keyring().fingerprint(code) == hmac.digest(derived, code.encode(), "sha256")


def test_no_two_keys_of_a_batch_get_the_same_nonce_across_blocks_of_random_bytes() -> None:
    data_key, _ = keyring().new_data_key("batch-n")
    nonces = [data_key.seal(f"key-{i}", "C", "").nonce for i in range(10_000)]
    assert len(set(nonces)) == len(nonces) and {len(n) for n in nonces} == {12}


def test_the_fingerprint_key_follows_the_configured_master_key_not_the_active_one() -> None:
    assert keyring(active="k1").fingerprint("X") != keyring(active="k2").fingerprint("X")
    pinned = keyring(active="k2", fingerprint_key_id="k1")
    assert pinned.fingerprint("X") == keyring(active="k1").fingerprint("X")


def test_keys_are_read_from_a_json_object_of_base64() -> None:
    config = json.dumps({"k1": base64.b64encode(OLD).decode()})
    assert Keyring.from_config(config, "k1").active_id == "k1"


@pytest.mark.parametrize(
    ("config", "active"),
    [
        ("not json", "k1"),
        ('["a list"]', "k1"),
        ('{"k1": "%%%"}', "k1"),
        (json.dumps({"k1": base64.b64encode(b"short").decode()}), "k1"),
        (json.dumps({"k1": base64.b64encode(OLD).decode()}), "missing"),
    ],
)
def test_misconfigured_master_keys_are_refused_without_echoing_them(config: str, active: str) -> None:
    with pytest.raises(KeyringError) as caught:
        Keyring.from_config(config, active)
    assert base64.b64encode(OLD).decode() not in str(caught.value)


def test_a_forbidden_key_is_refused() -> None:
    config = json.dumps({"dev-1": DEV_MASTER_KEY})
    with pytest.raises(KeyringError, match="development key"):
        Keyring.from_config(config, "dev-1", forbidden=frozenset({base64.b64decode(DEV_MASTER_KEY)}))
