"""Master-key rotation: re-wrap every batch's data key under another master key.

The card keys' ciphertexts do not change: they are sealed with the batch data keys, which stay the same.
The old wrappings are replaced, not kept (a retired master key must not open anything any more), and the
rotation is recorded as DataKeysRewrapped.
"""

from __future__ import annotations

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork, Keys
from quanyi_inventory.domain import custody


async def rotate_master_key(
    uow: InventoryUnitOfWork, keys: Keys, to_id: str | None = None, actor: str = "operator"
) -> int:
    """Re-wrap, in one unit of work, the data key of every batch not yet wrapped by `to_id` (default: the
    active master key). Returns how many batches were re-wrapped. Both the old and the new master keys
    must be in `keys`."""
    target = to_id or keys.active_id
    async with uow:
        old = await uow.vault.wrapped_not_by(target)
        if not old:
            return 0
        new = {batch_id: keys.rewrap(wrapped, batch_id, target) for batch_id, wrapped in old.items()}
        await uow.vault.rewrap(new)
        rotation_id = new_event_id()
        recorded = custody.rewrapped(
            rotation_id, target, [(b, w.master_key_id) for b, w in old.items()], actor
        )
        await uow.record([recorded], Context(correlation_id=rotation_id))
        await uow.commit()
    return len(new)
