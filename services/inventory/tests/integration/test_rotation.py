"""Master-key rotation against real Postgres."""

from __future__ import annotations

import os
from typing import Any

from psycopg_pool import AsyncConnectionPool
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_inventory.adapters.crypto import Keyring
from quanyi_inventory.application.reveal import reveal_keys
from quanyi_inventory.application.rotate import rotate_master_key
from quanyi_inventory.config import DEV_MASTER_KEYS
from quanyi_inventory.entrypoints.consumers import handlers
from quanyi_platform.eventstore import EventStore


async def test_rotation_rewraps_every_batch_and_stored_keys_still_reveal(
    pool: AsyncConnectionPool, store: EventStore, keyring: Keyring, stock_sku: Any, paid: Any
) -> None:
    sku = await stock_sku(["ROT-1", "ROT-2"])
    await stock_sku(["ROT-3"])
    async with pool.connection() as conn, conn.transaction():
        await handlers(store)[orders_events.OrderPaid.DESCRIPTOR.full_name](conn, paid("order-1", [(sku, 2)]))
        cur = await conn.execute("SELECT ciphertext FROM keys ORDER BY key_id")
        ciphertexts = [bytes(r["ciphertext"]) for r in await cur.fetchall()]

    new_master = os.urandom(32)
    rotated = Keyring({"dev-1": DEV_MASTER_KEYS[0], "prod-2": new_master}, "prod-2", fingerprint_key_id="dev-1")
    assert rotated.fingerprint("ROT-1") == keyring.fingerprint("ROT-1")
    async with pool.connection() as conn, conn.transaction():
        assert await rotate_master_key(conn, rotated) == 2
        assert await rotate_master_key(conn, rotated) == 0

    only_new = Keyring({"prod-2": new_master}, "prod-2")
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute("SELECT DISTINCT master_key_id FROM key_batches")
        assert [r["master_key_id"] for r in await cur.fetchall()] == ["prod-2"]
        cur = await conn.execute("SELECT ciphertext FROM keys ORDER BY key_id")
        assert [bytes(r["ciphertext"]) for r in await cur.fetchall()] == ciphertexts
        keys = await reveal_keys(conn, only_new, order_id="order-1", key_ids=[], actor="test", purpose="rotation")
    assert sorted(k.code for k in keys) == ["ROT-1", "ROT-2"]

