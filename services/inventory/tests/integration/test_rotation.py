"""Master-key rotation against real Postgres."""

from __future__ import annotations

import os
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application.reveal import reveal_keys
from quanyi_inventory.application.rotate import rotate_master_key
from quanyi_inventory.config import DEV_MASTER_KEYS
from quanyi_platform.envelope import open_envelope

from .conftest import Pay, UowFactory


async def test_rotation_rewraps_every_batch_and_stored_keys_still_reveal(
    pool: AsyncConnectionPool, uow: UowFactory, keyring: Keyring, stock_sku: Any, paid: Any, pay: Pay
) -> None:
    sku = await stock_sku(["ROT-1", "ROT-2"])
    await stock_sku(["ROT-3"])
    await pay(paid("order-1", [(sku, 2)]))
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT ciphertext FROM key_material ORDER BY key_id")
        ciphertexts = [bytes(r["ciphertext"]) for r in await cur.fetchall()]

    new_master = os.urandom(32)
    rotated = Keyring({"dev-1": DEV_MASTER_KEYS[0], "prod-2": new_master}, "prod-2", fingerprint_key_id="dev-1")
    assert rotated.fingerprint("ROT-1") == keyring.fingerprint("ROT-1")
    assert await rotate_master_key(uow(), rotated, actor="ops:alice") == 2
    assert await rotate_master_key(uow(), rotated) == 0

    only_new = Keyring({"prod-2": new_master}, "prod-2")
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT DISTINCT master_key_id FROM data_keys")
        assert [r["master_key_id"] for r in await cur.fetchall()] == ["prod-2"]
        cur = await conn.execute("SELECT DISTINCT master_key_id FROM key_batches")
        assert [r["master_key_id"] for r in await cur.fetchall()] == ["prod-2"]
        cur = await conn.execute("SELECT ciphertext FROM key_material ORDER BY key_id")
        assert [bytes(r["ciphertext"]) for r in await cur.fetchall()] == ciphertexts
        cur = await conn.execute("SELECT envelope FROM events WHERE event_type LIKE '%%DataKeysRewrapped'")
        [rotation] = [open_envelope(bytes(r["envelope"]))[1] for r in await cur.fetchall()]
    assert isinstance(rotation, inventory_events.DataKeysRewrapped)
    assert (rotation.master_key_id, rotation.actor) == ("prod-2", "ops:alice")
    assert [b.previous_master_key_id for b in rotation.batches] == ["dev-1", "dev-1"]
    keys = await reveal_keys(uow(), only_new, order_id="order-1", key_ids=[], actor="test", purpose="rotation")
    assert sorted(k.code for k in keys) == ["ROT-1", "ROT-2"]
