"""Importing card keys: validate and seal a CSV file, then store the batch and record KeysImported."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import Context, InventoryUnitOfWork, Keys, SealedBatch
from quanyi_inventory.domain import stock as stock_rules
from quanyi_inventory.domain.errors import NotFound
from quanyi_inventory.domain.keyfile import RejectedRow, parse_key_file
from quanyi_inventory.domain.money import Money

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    sku_id: str
    imported: int
    duplicates: int
    rejected: list[RejectedRow]


def prepare_batch(keys: Keys, csv_data: bytes, max_rows: int) -> SealedBatch:
    """Parse, fingerprint and seal a file under a fresh data key (CPU only: run it off the event loop).

    Raises InvalidInput when the file as a whole is unusable.
    """
    keyfile = parse_key_file(csv_data, max_rows)
    batch_id = new_event_id()
    data_key, wrapped = keys.new_data_key(batch_id)
    rows: list[tuple[str, bytes, bytes, bytes]] = []
    for key in keyfile.rows:
        key_id = new_event_id()
        sealed = data_key.seal(key_id, key.code, key.password)
        rows.append((key_id, keys.fingerprint(key.code), sealed.ciphertext, sealed.nonce))
    return SealedBatch(batch_id, wrapped, rows, keyfile.duplicates, keyfile.rejected)


async def pool_sku(uow: InventoryUnitOfWork, pool_id: str) -> str:
    """The SKU a pool fills; NotFound for an unknown pool."""
    async with uow:
        pool = await uow.catalogue.pool(pool_id)
    if pool is None:
        raise NotFound("no such pool")
    return pool.sku_id


async def store_batch(
    uow: InventoryUnitOfWork,
    batch: SealedBatch,
    *,
    pool_id: str,
    unit_cost: Money,
    actor: str,
    channel: str = "",
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
) -> ImportResult:
    """Store the batch's sealed keys and record KeysImported (and StockLowCleared when it lifts a SKU
    reported low above its threshold), in one unit of work.

    A code already stored for the pool's SKU is not stored again but counted as a duplicate, as is a code
    repeated within the file; so a retried import stores nothing twice. The alert is decided with the
    SKU's stock locked, as allocations decide theirs, so a SKU's alerts follow one order.
    """
    async with uow:
        pool = await uow.catalogue.pool(pool_id)
        if pool is None:
            raise NotFound("no such pool")
        imported = await uow.vault.add_batch(pool.sku_id, batch)
        duplicates = batch.duplicates_in_file + len(batch.rows) - imported
        context = Context(correlation_id=batch.batch_id)
        recorded = stock_rules.keys_imported(
            pool.sku_id,
            batch_id=batch.batch_id,
            pool_id=pool_id,
            imported=imported,
            duplicates=duplicates,
            rejected=len(batch.rejected),
            unit_cost=unit_cost,
            actor=actor,
            master_key_id=batch.wrapped_data_key.master_key_id,
            channel=channel,
            valid_from=valid_from,
            expires_at=expires_at,
        )
        await uow.record([recorded], context)
        # Only now, with the keys stored and counted, is the SKU locked: a large import does not hold up
        # the SKU's allocations while its keys are written.
        stock = (await uow.stock.lock([pool.sku_id])).get(pool.sku_id)
        if stock is None:
            raise NotFound("no such SKU")
        _, cleared = stock_rules.clear_if_restocked(stock)
        await uow.record(cleared, context)
        await uow.commit()
    log.info(
        "keys imported",
        extra={"batch_id": batch.batch_id, "pool_id": pool_id, "sku_id": pool.sku_id, "imported": imported,
               "duplicates": duplicates, "rejected": len(batch.rejected), "actor": actor},
    )
    return ImportResult(batch.batch_id, pool.sku_id, imported, duplicates, batch.rejected)


async def import_file(
    uow: Callable[[], InventoryUnitOfWork],
    keys: Keys,
    *,
    pool_id: str,
    csv_data: bytes,
    unit_cost: Money,
    actor: str,
    max_rows: int,
) -> ImportResult:
    """The ImportKeys use case: an unknown pool fails before the file is read; the file is parsed and
    sealed off the event loop (CPU work); then the batch is stored (`store_batch`)."""
    await pool_sku(uow(), pool_id)
    batch = await asyncio.to_thread(prepare_batch, keys, csv_data, max_rows)
    who = actor.strip() or "unknown"
    return await store_batch(uow(), batch, pool_id=pool_id, unit_cost=unit_cost, actor=who)
