"""Operator tools on import batches: void one into the recycle bin, restore it, move its unsold keys to
another pool, audit an export with codes.

A batch is an aggregate (KeyBatch): KeysImported is its version 1, each BatchVoided, BatchRestored or
KeysMoved one more. Voiding takes the batch's available keys out of sale; keys already sold are not
touched. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quanyi_inventory.domain.errors import InvalidInput, InventoryError, NotFound
from quanyi_inventory.domain.events import (
    KEY_BATCH,
    KEY_EXPORT,
    BatchRestored,
    BatchVoided,
    KeysExported,
    KeysMoved,
    Recorded,
)

STATES = ("available", "reserved", "delivered", "redeemed", "expired", "void", "recycled")
MAX_REASON = 500


class BatchStateConflict(InventoryError):
    """The batch's state does not allow it (maps to FAILED_PRECONDITION)."""


@dataclass(frozen=True)
class BatchState:
    """A batch as its projection holds it, with its keys counted by state now."""

    batch_id: str
    pool_id: str
    sku_id: str
    voided: bool
    version: int
    available: int
    void: int


def void(state: BatchState | None, actor: str, reason: str) -> Recorded:
    """BatchVoided for a batch that is not in the recycle bin; its available keys are voided."""
    if state is None:
        raise NotFound("no such batch")
    if state.voided:
        raise BatchStateConflict("the batch is in the recycle bin already")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    who = actor.strip() or "operator"
    event = BatchVoided(state.batch_id, state.pool_id, state.sku_id, state.available, who, reason.strip())
    return Recorded(KEY_BATCH, state.batch_id, state.version + 1, event)


def restore(state: BatchState | None, actor: str) -> Recorded:
    """BatchRestored for a batch in the recycle bin; its voided keys are available again."""
    if state is None:
        raise NotFound("no such batch")
    if not state.voided:
        raise BatchStateConflict("the batch is not in the recycle bin")
    who = actor.strip() or "operator"
    event = BatchRestored(state.batch_id, state.pool_id, state.sku_id, state.void, who)
    return Recorded(KEY_BATCH, state.batch_id, state.version + 1, event)


def move(state: BatchState | None, to_pool_id: str, to_sku_id: str | None, actor: str) -> Recorded:
    """KeysMoved: the batch's available keys go to pool `to_pool_id` (of SKU `to_sku_id`; None: unknown)."""
    if state is None:
        raise NotFound("no such batch")
    if to_sku_id is None:
        raise NotFound("no such pool")
    if state.voided:
        raise BatchStateConflict("the batch is in the recycle bin; restore it first")
    if to_pool_id == state.pool_id:
        raise BatchStateConflict("the batch's keys are in that pool already")
    if state.available == 0:
        raise BatchStateConflict("the batch has no unsold keys")
    who = actor.strip() or "operator"
    event = KeysMoved(
        state.batch_id, state.pool_id, state.sku_id, to_pool_id, to_sku_id, state.available, who
    )
    return Recorded(KEY_BATCH, state.batch_id, state.version + 1, event)


def check_filter(state: str) -> None:
    if state and state not in STATES:
        raise InvalidInput(f"the state must be one of {', '.join(STATES)}")


def exported(
    export_id: str, actor: str, *, batch_id: str, pool_id: str, state: str, expires_before: datetime | None,
    keys: int,
) -> Recorded:
    """KeysExported: the audit of an export with codes, recorded before any code leaves."""
    if not actor.strip():
        raise InvalidInput("actor is required for the audit trail")
    event = KeysExported(export_id, actor.strip(), batch_id, pool_id, state, expires_before, keys)
    return Recorded(KEY_EXPORT, export_id, 1, event)
