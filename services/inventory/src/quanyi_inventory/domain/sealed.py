"""Sealed secrets as values: what the store keeps of a card key and of a batch's data key."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WrappedDataKey:
    """A batch's data key, encrypted by the master key `master_key_id`: nonce || ciphertext || tag."""

    master_key_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True)
class SealedKey:
    """A card key's sealed plaintext."""

    nonce: bytes
    ciphertext: bytes = field(repr=False)
