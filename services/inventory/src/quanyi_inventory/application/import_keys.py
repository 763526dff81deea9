"""Importing card keys: validate and encrypt a CSV file, then store the batch in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.envelope import NewEvent, new_event_id
from quanyi_platform.eventstore import EventStore

from quanyi_inventory.adapters.crypto import Keyring, WrappedDataKey
from quanyi_inventory.application.stock import clear_low_stock_if_restocked
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.domain.errors import NotFound
from quanyi_inventory.domain.keyfile import RejectedRow, parse_key_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedBatch:
    """An import file, validated and encrypted, not stored yet. Holds no plaintext.

    `rows` are (key_id, fingerprint, ciphertext, nonce), each code once.
    """

    batch_id: str
    wrapped_data_key: WrappedDataKey
    rows: list[tuple[str, bytes, bytes, bytes]] = field(repr=False)
    duplicates_in_file: int
    rejected: list[RejectedRow]


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    sku_id: str
    imported: int
    duplicates: int
    rejected: list[RejectedRow]


async def pool_sku(conn: AsyncConnection[Any], pool_id: str) -> str:
    """The SKU a pool fills; NotFound for an unknown pool."""
    cur = await conn.execute("SELECT sku_id FROM pools WHERE pool_id = %s", (pool_id,))
    row: Any = await cur.fetchone()
    if row is None:
        raise NotFound("no such pool")
    return str(row["sku_id"])


def prepare_batch(keyring: Keyring, csv_data: bytes, max_rows: int) -> PreparedBatch:
    """Parse, fingerprint and seal a file under a fresh data key (CPU only: run it off the event loop).

    Raises InvalidInput when the file as a whole is unusable.
    """
    keyfile = parse_key_file(csv_data, max_rows)
    batch_id = new_event_id()
    data_key, wrapped = keyring.new_data_key(batch_id)
    rows: list[tuple[str, bytes, bytes, bytes]] = []
    for key in keyfile.rows:
        key_id = new_event_id()
        sealed = data_key.seal(key_id, key.code, key.password)
        rows.append((key_id, keyring.fingerprint(key.code), sealed.ciphertext, sealed.nonce))
    return PreparedBatch(batch_id, wrapped, rows, keyfile.duplicates, keyfile.rejected)


async def store_batch(
    conn: AsyncConnection[Any],
    store: EventStore,
    batch: PreparedBatch,
    *,
    pool_id: str,
    unit_cost: Money,
    actor: str,
) -> ImportResult:
    """Store the batch, its keys and KeysImported in the caller's transaction.

    A code already stored for the pool's SKU is not stored again but counted as a duplicate, as is a
    code repeated within the file; so a retried import stores nothing twice.
    """
    sku_id = await pool_sku(conn, pool_id)
    await conn.execute(
        "INSERT INTO key_batches (batch_id, pool_id, sku_id, master_key_id, wrapped_data_key,"
        " unit_cost_minor, currency, rejected, actor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            batch.batch_id, pool_id, sku_id,
            batch.wrapped_data_key.master_key_id, batch.wrapped_data_key.blob,
            unit_cost.minor_units, unit_cost.currency, len(batch.rejected), actor,
        ),
    )
    await conn.execute(
        "CREATE TEMP TABLE import_staging (key_id text, fingerprint bytea, ciphertext bytea, nonce bytea)"
        " ON COMMIT DROP"
    )
    async with conn.cursor() as cur:
        async with cur.copy(
            "COPY import_staging (key_id, fingerprint, ciphertext, nonce) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "bytea", "bytea", "bytea"])
            for row in batch.rows:
                await copy.write_row(row)
        await cur.execute(
            "INSERT INTO keys (key_id, pool_id, sku_id, batch_id, fingerprint, ciphertext, nonce, state,"
            " unit_cost_minor, currency)"
            " SELECT key_id, %s, %s, %s, fingerprint, ciphertext, nonce, 'available', %s, %s"
            " FROM import_staging ORDER BY key_id"
            " ON CONFLICT (sku_id, fingerprint) DO NOTHING",
            (pool_id, sku_id, batch.batch_id, unit_cost.minor_units, unit_cost.currency),
        )
        imported = max(cur.rowcount, 0)
    await conn.execute("DROP TABLE import_staging")
    duplicates = batch.duplicates_in_file + len(batch.rows) - imported
    await conn.execute(
        "UPDATE key_batches SET imported = %s, duplicates = %s WHERE batch_id = %s",
        (imported, duplicates, batch.batch_id),
    )
    if imported:
        await clear_low_stock_if_restocked(conn, sku_id)
    await store.append(
        conn,
        [
            NewEvent(
                aggregate_type="KeyBatch",
                aggregate_id=batch.batch_id,
                aggregate_version=1,
                payload=inventory_events.KeysImported(
                    batch_id=batch.batch_id,
                    pool_id=pool_id,
                    sku_id=sku_id,
                    imported=imported,
                    duplicates=duplicates,
                    unit_cost=money_pb2.Money(minor_units=unit_cost.minor_units, currency=unit_cost.currency),
                ),
                correlation_id=batch.batch_id,
            )
        ],
    )
    log.info(
        "keys imported",
        extra={"batch_id": batch.batch_id, "pool_id": pool_id, "sku_id": sku_id, "imported": imported,
               "duplicates": duplicates, "rejected": len(batch.rejected), "actor": actor},
    )
    return ImportResult(batch.batch_id, sku_id, imported, duplicates, batch.rejected)
