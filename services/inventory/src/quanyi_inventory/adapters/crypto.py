"""Envelope encryption of card keys (AES-256-GCM) and their fingerprints.

- Each import batch has its own random 256-bit data key. The data key is stored only wrapped (AES-GCM)
  by a master key, next to the master key's id; the associated data of the wrap is the batch id, so a
  wrapped key cannot be moved to another batch.
- Each card key's plaintext, the JSON {"c": code, "p": password}, is sealed with its batch's data key, a
  random 96-bit nonce and the key id as associated data, so a ciphertext cannot be moved to another row.
- Rotation re-wraps data keys under another master key; the card keys' ciphertexts stay as they are.
- A fingerprint is HMAC-SHA256 of the normalized code under a key derived (HKDF-SHA256) from a master
  key; equal codes have equal fingerprints, so duplicates and look-ups need no decryption.

No message of an exception raised here contains key material or a card key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from quanyi_inventory.domain.keyfile import normalize_code
from quanyi_inventory.domain.sealed import SealedKey as SealedKey
from quanyi_inventory.domain.sealed import WrappedDataKey as WrappedDataKey

_json_string = json.encoder.encode_basestring

KEY_BYTES = 32
NONCE_BYTES = 12
FINGERPRINT_INFO = b"quanyi key fingerprint"
# Random nonces are drawn from the OS this many at a time (a read per nonce cost ~4 µs of a key's ~12).
_NONCES_PER_READ = 4096


class _Nonces:
    """Random 96-bit nonces, read from os.urandom in blocks; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def next(self) -> bytes:
        with self._lock:
            if self._at >= len(self._block):
                self._block = os.urandom(NONCE_BYTES * _NONCES_PER_READ)
                self._at = 0
            nonce = self._block[self._at:self._at + NONCE_BYTES]
            self._at += NONCE_BYTES
            return nonce


class _HmacSha256:
    """HMAC-SHA256 under one key (RFC 2104), its padded key's hash states computed once: equal to
    hmac.digest(key, msg, "sha256"), about twice as fast for short messages (no per-call set-up)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class KeyringError(Exception):
    """The master keys are misconfigured, or a master key named by a batch is missing."""


class DecryptionFailed(Exception):
    """A ciphertext does not open: wrong key, wrong associated data, or tampered bytes."""


class DataKey:
    """A batch's data key in the clear; seals and opens that batch's card keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyringError("a data key must be 32 bytes")
        self._aead = AESGCM(key)
        self._nonces = _Nonces()

    def __repr__(self) -> str:
        return "DataKey(<hidden>)"

    def seal(self, key_id: str, code: str, password: str) -> SealedKey:
        # json.dumps({"c": code, "p": password}, ensure_ascii=False, separators=(",", ":")), without its
        # per-call overhead (a large import seals a million keys).
        plaintext = '{"c":' + _json_string(code) + ',"p":' + _json_string(password) + "}"
        nonce = self._nonces.next()
        return SealedKey(nonce, self._aead.encrypt(nonce, plaintext.encode(), key_id.encode()))

    def open(self, key_id: str, sealed: SealedKey) -> tuple[str, str]:
        """The (code, password) sealed for `key_id`."""
        try:
            plaintext = self._aead.decrypt(sealed.nonce, sealed.ciphertext, key_id.encode())
        except InvalidTag:
            raise DecryptionFailed("a card key could not be decrypted") from None
        data = json.loads(plaintext)
        return str(data["c"]), str(data.get("p", ""))


class Keyring:
    """The master keys by id, which one wraps new data keys, and the fingerprint key."""

    def __init__(
        self, master_keys: Mapping[str, bytes], active_id: str, fingerprint_key_id: str = ""
    ) -> None:
        if not master_keys:
            raise KeyringError("no master keys are configured")
        for key_id, key in master_keys.items():
            if len(key) != KEY_BYTES:
                raise KeyringError(f"master key {key_id!r} must be 32 bytes")
        if active_id not in master_keys:
            raise KeyringError(f"the active master key {active_id!r} is not among the master keys")
        fingerprint_key_id = fingerprint_key_id or active_id
        if fingerprint_key_id not in master_keys:
            raise KeyringError(f"the fingerprint master key {fingerprint_key_id!r} is not configured")
        self._keys = {key_id: AESGCM(key) for key_id, key in master_keys.items()}
        self._active_id = active_id
        self._fingerprint = _HmacSha256(HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=FINGERPRINT_INFO
        ).derive(master_keys[fingerprint_key_id]))

    def __repr__(self) -> str:
        return f"Keyring(active={self._active_id!r}, ids={sorted(self._keys)!r})"

    @classmethod
    def from_config(
        cls,
        master_keys_json: str,
        active_id: str,
        fingerprint_key_id: str = "",
        *,
        forbidden: frozenset[bytes] = frozenset(),
    ) -> Keyring:
        """Build from the settings' JSON object {key_id: base64 of 32 bytes}.

        `forbidden` lists keys that must not be used (the development key, in production).
        """
        try:
            raw = json.loads(master_keys_json)
        except json.JSONDecodeError:
            raise KeyringError("master keys must be a JSON object of key id to base64") from None
        if not isinstance(raw, dict):
            raise KeyringError("master keys must be a JSON object of key id to base64")
        keys: dict[str, bytes] = {}
        for key_id, encoded in raw.items():
            try:
                keys[str(key_id)] = base64.b64decode(str(encoded), validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(f"master key {key_id!r} is not valid base64") from None
            if keys[str(key_id)] in forbidden:
                raise KeyringError(f"master key {key_id!r} is the development key, which is not allowed here")
        return cls(keys, active_id, fingerprint_key_id)

    @property
    def active_id(self) -> str:
        return self._active_id

    def fingerprint(self, code: str) -> bytes:
        """HMAC-SHA256 of the normalized code: equal codes give equal fingerprints."""
        return self._fingerprint.digest(normalize_code(code).encode())

    def new_data_key(self, batch_id: str) -> tuple[DataKey, WrappedDataKey]:
        """A fresh random data key for `batch_id`, and its wrapping by the active master key."""
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        return DataKey(key), self._wrap(key, batch_id, self._active_id)

    def unwrap(self, wrapped: WrappedDataKey, batch_id: str) -> DataKey:
        return DataKey(self._unwrap(wrapped, batch_id))

    def rewrap(self, wrapped: WrappedDataKey, batch_id: str, to_id: str | None = None) -> WrappedDataKey:
        """The same data key, wrapped by master key `to_id` (default: the active one)."""
        target = to_id or self._active_id
        if target not in self._keys:
            raise KeyringError(f"unknown master key {target!r}")
        return self._wrap(self._unwrap(wrapped, batch_id), batch_id, target)

    def _wrap(self, key: bytes, batch_id: str, master_key_id: str) -> WrappedDataKey:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._keys[master_key_id].encrypt(nonce, key, batch_id.encode())
        return WrappedDataKey(master_key_id, blob)

    def _unwrap(self, wrapped: WrappedDataKey, batch_id: str) -> bytes:
        master = self._keys.get(wrapped.master_key_id)
        if master is None:
            raise KeyringError(f"master key {wrapped.master_key_id!r} is not configured")
        try:
            return master.decrypt(wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], batch_id.encode())
        except InvalidTag:
            raise DecryptionFailed("a data key could not be unwrapped") from None
