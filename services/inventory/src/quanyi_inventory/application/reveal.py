"""Revealing and finding keys. Only RevealKeys ever decrypts, and every key it decrypts is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from quanyi_inventory.adapters.crypto import DataKey, Keyring, SealedKey, WrappedDataKey
from quanyi_inventory.domain.errors import InvalidInput, NotFound
from quanyi_inventory.domain.keyfile import normalize_code


@dataclass(frozen=True)
class RevealedKey:
    """A key in plaintext, on its way to the one caller that asked. Never log or store it."""

    key_id: str
    sku_id: str
    code: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True)
class FoundKey:
    key_id: str
    sku_id: str
    order_id: str


async def reveal_keys(
    conn: AsyncConnection[Any],
    keyring: Keyring,
    *,
    order_id: str,
    key_ids: Sequence[str],
    actor: str,
    purpose: str,
) -> list[RevealedKey]:
    """The plaintext of the keys `order_id` holds (only `key_ids` when given), in (line, unit) order.

    Writes one key_reveals row per key in the caller's transaction, so no key leaves without its audit
    row. NotFound when the order holds no keys, or not every one of `key_ids`.
    """
    if not order_id:
        raise InvalidInput("order_id is required")
    if not actor.strip():
        raise InvalidInput("actor is required for the audit trail")
    wanted = sorted(set(key_ids))
    cur = await conn.execute(
        "SELECT k.key_id, k.sku_id, k.batch_id, k.ciphertext, k.nonce, b.master_key_id, b.wrapped_data_key"
        " FROM keys k JOIN key_batches b ON b.batch_id = k.batch_id"
        " WHERE k.order_id = %s AND (cardinality(%s::text[]) = 0 OR k.key_id = ANY(%s::text[]))"
        " ORDER BY k.line_no, k.unit_no",
        (order_id, wanted, wanted),
    )
    rows: list[Any] = await cur.fetchall()
    if not rows:
        raise NotFound("this order holds no keys")
    if wanted and len(rows) != len(wanted):
        raise NotFound("this order does not hold every key asked for")
    data_keys: dict[str, DataKey] = {}
    revealed: list[RevealedKey] = []
    for row in rows:
        batch_id = row["batch_id"]
        if batch_id not in data_keys:
            wrapped = WrappedDataKey(row["master_key_id"], bytes(row["wrapped_data_key"]))
            data_keys[batch_id] = keyring.unwrap(wrapped, batch_id)
        code, password = data_keys[batch_id].open(
            row["key_id"], SealedKey(bytes(row["nonce"]), bytes(row["ciphertext"]))
        )
        revealed.append(RevealedKey(row["key_id"], row["sku_id"], code, password))
    await conn.execute(
        "INSERT INTO key_reveals (key_id, order_id, actor, purpose)"
        " SELECT unnest(%s::text[]), %s, %s, %s",
        ([k.key_id for k in revealed], order_id, actor.strip(), purpose.strip()),
    )
    return revealed


async def find_key(conn: AsyncConnection[Any], keyring: Keyring, code: str) -> FoundKey:
    """The key with this code, by fingerprint (nothing is decrypted). When several SKUs hold the same
    code, a key held by an order wins, the most recently reserved first. NotFound when none."""
    if not normalize_code(code):
        raise InvalidInput("code is required")
    cur = await conn.execute(
        "SELECT key_id, sku_id, order_id FROM keys WHERE fingerprint = %s"
        " ORDER BY reserved_at DESC NULLS LAST, key_id LIMIT 1",
        (keyring.fingerprint(code),),
    )
    row: Any = await cur.fetchone()
    if row is None:
        raise NotFound("no such key")
    return FoundKey(row["key_id"], row["sku_id"], row["order_id"] or "")
