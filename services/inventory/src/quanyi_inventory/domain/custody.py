"""Custody of the keys' secrets: every reveal is an audit event, and so is every re-wrap of data keys."""

from __future__ import annotations

from collections.abc import Sequence

from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.events import (
    KEY_REVEAL,
    KEY_ROTATION,
    DataKeysRewrapped,
    KeysRevealed,
    Recorded,
    RewrappedBatch,
)


def wanted_keys(key_ids: Sequence[str]) -> list[str]:
    """The distinct key ids asked for, sorted; empty means every key of the order."""
    return sorted(set(key_ids))


def check_reveal(order_id: str, actor: str) -> None:
    """A reveal names its order and who asks (the audit trail needs both)."""
    if not order_id:
        raise InvalidInput("order_id is required")
    if not actor.strip():
        raise InvalidInput("actor is required for the audit trail")


def reveal(reveal_id: str, order_id: str, key_ids: Sequence[str], actor: str, purpose: str) -> Recorded:
    """KeysRevealed for keys about to leave in plaintext (ids only, in the order they are handed out)."""
    check_reveal(order_id, actor)
    event = KeysRevealed(reveal_id, order_id, tuple(key_ids), actor.strip(), purpose.strip())
    return Recorded(KEY_REVEAL, reveal_id, 1, event)


def rewrapped(
    rotation_id: str, master_key_id: str, batches: Sequence[tuple[str, str]], actor: str
) -> Recorded:
    """DataKeysRewrapped for (batch id, previous master key id) pairs, in batch id order."""
    event = DataKeysRewrapped(
        rotation_id,
        master_key_id,
        tuple(RewrappedBatch(b, previous) for b, previous in sorted(batches)),
        actor.strip() or "operator",
    )
    return Recorded(KEY_ROTATION, rotation_id, 1, event)
