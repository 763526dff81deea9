"""Master-key rotation: re-wrap every batch's data key under another master key.

The card keys' ciphertexts do not change: they are sealed with the batch data keys, which stay the same.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from quanyi_inventory.adapters.crypto import Keyring, WrappedDataKey


async def rotate_master_key(conn: AsyncConnection[Any], keyring: Keyring, to_id: str | None = None) -> int:
    """Re-wrap, in the caller's transaction, the data key of every batch not yet wrapped by `to_id`
    (default: the active master key). Returns how many batches were re-wrapped. Both the old and the
    new master keys must be in `keyring`."""
    target = to_id or keyring.active_id
    cur = await conn.execute(
        "SELECT batch_id, master_key_id, wrapped_data_key FROM key_batches WHERE master_key_id <> %s"
        " ORDER BY batch_id FOR UPDATE",
        (target,),
    )
    rows: list[Any] = await cur.fetchall()
    updates = []
    for row in rows:
        wrapped = WrappedDataKey(row["master_key_id"], bytes(row["wrapped_data_key"]))
        new = keyring.rewrap(wrapped, row["batch_id"], target)
        updates.append((new.master_key_id, new.blob, row["batch_id"]))
    if updates:
        async with conn.cursor() as write:
            await write.executemany(
                "UPDATE key_batches SET master_key_id = %s, wrapped_data_key = %s WHERE batch_id = %s",
                updates,
            )
    return len(updates)
