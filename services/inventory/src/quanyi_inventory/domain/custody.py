"""Custody of the keys' secrets: every reveal is an audit event, and so is every re-wrap of data keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from quanyi_inventory.domain.errors import InvalidInput, PermissionDenied, Unauthenticated
from quanyi_inventory.domain.events import (
    KEY_REVEAL,
    KEY_ROTATION,
    DataKeysRewrapped,
    KeysRevealed,
    KeysRevealRefused,
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


def reveal(
    reveal_id: str, order_id: str, key_ids: Sequence[str], actor: str, purpose: str, on_behalf_of: str = ""
) -> Recorded:
    """KeysRevealed for keys about to leave in plaintext (ids only, in the order they are handed out)."""
    check_reveal(order_id, actor)
    event = KeysRevealed(
        reveal_id, order_id, tuple(key_ids), actor.strip(), purpose.strip(), on_behalf_of.strip()
    )
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


ANY_PURPOSE = "*"
UNAUTHENTICATED = "unauthenticated"
PERMISSION_DENIED = "permission_denied"


@dataclass(frozen=True)
class RevealPolicy:
    """Which authenticated service identities may reveal keys, and for which purposes ("*": any).

    The default lets fulfillment reveal for delivery (any purpose) and nobody else. A caller reveals only
    the keys the order it names holds (the reveal use case reads them by order)."""

    allowed: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: {"fulfillment": frozenset({ANY_PURPOSE})}
    )

    def check(self, identity: str | None, purpose: str) -> None:
        """Unauthenticated without an identity; PermissionDenied when it may not reveal for `purpose`."""
        if not identity:
            raise Unauthenticated("the caller's service identity is required to reveal keys")
        purposes = self.allowed.get(identity)
        if purposes is None or not (ANY_PURPOSE in purposes or purpose.strip() in purposes):
            raise PermissionDenied("this service may not reveal keys for this purpose")


def refused(
    attempt_id: str, order_id: str, identity: str | None, on_behalf_of: str, purpose: str,
    error: Unauthenticated | PermissionDenied,
) -> Recorded:
    """KeysRevealRefused: the audit record of a reveal refused to `identity` (None: unauthenticated)."""
    reason = UNAUTHENTICATED if isinstance(error, Unauthenticated) else PERMISSION_DENIED
    event = KeysRevealRefused(
        attempt_id, order_id[:200], identity or "", on_behalf_of.strip()[:200], purpose.strip()[:200], reason
    )
    return Recorded(KEY_REVEAL, attempt_id, 1, event)
