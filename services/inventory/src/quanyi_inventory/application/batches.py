"""Operator tools: void a batch into the recycle bin and restore it, list batches, export keys (codes only
when asked, and then audited first), read the pools' operation log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.envelope import new_event_id

from quanyi_inventory.application.ports import (
    BatchSummary,
    Context,
    InventoryUnitOfWork,
    KeyFilter,
    Keys,
    ListedKey,
    Opener,
    PoolOperation,
)
from quanyi_inventory.domain import batches as rules
from quanyi_inventory.domain.events import Recorded

EXPORT_PAGE = 1_000


@dataclass(frozen=True)
class ExportedKey:
    """A key of an export; `code` and `password` are empty unless asked for (then never log them)."""

    key: ListedKey
    code: str = ""
    password: str = ""


async def _change(
    uow: InventoryUnitOfWork, batch_id: str, decide: Callable[[rules.BatchState | None], Recorded]
) -> int:
    async with uow:
        state = await uow.batches.load(batch_id)
        if state is not None:
            # No allocation of the SKU runs meanwhile (claims held, then its stock locked), so the keys
            # counted now are the keys the event moves.
            await uow.stock.hold_claims([state.sku_id])
            await uow.stock.lock([state.sku_id])
            state = await uow.batches.load(batch_id)
        recorded = decide(state)
        await uow.record([recorded], Context(correlation_id=batch_id))
        await uow.commit()
    keys = getattr(recorded.event, "keys", 0)
    return int(keys)


async def void_batch(uow: InventoryUnitOfWork, batch_id: str, actor: str, reason: str) -> int:
    """Void the batch's available keys (BatchVoided); returns how many."""
    return await _change(uow, batch_id, lambda state: rules.void(state, actor, reason))


async def restore_batch(uow: InventoryUnitOfWork, batch_id: str, actor: str) -> int:
    """Make the voided batch's keys available again (BatchRestored); returns how many."""
    return await _change(uow, batch_id, lambda state: rules.restore(state, actor))


async def move_batch(uow: InventoryUnitOfWork, batch_id: str, to_pool_id: str, actor: str) -> int:
    """Move the batch's unsold keys to pool `to_pool_id` (KeysMoved); returns how many. Into another SKU
    only when that SKU holds none of their codes as other keys."""
    async with uow:
        state = await uow.batches.load(batch_id)
        target = await uow.catalogue.pool(to_pool_id)
        if state is not None and target is not None:
            await uow.stock.hold_claims([state.sku_id, target.sku_id])
            await uow.stock.lock([state.sku_id, target.sku_id])
            state = await uow.batches.load(batch_id)
        recorded = rules.move(state, to_pool_id, target.sku_id if target else None, actor)
        assert state is not None and target is not None
        if target.sku_id != state.sku_id:
            clashes = await uow.batches.claim_codes(batch_id, new_event_id(), target.sku_id)
            if clashes:
                raise rules.BatchStateConflict(f"{clashes} of the batch's codes are keys of that SKU already")
        await uow.record([recorded], Context(correlation_id=batch_id))
        await uow.commit()
    return state.available


async def list_batches(
    uow: InventoryUnitOfWork, pool_id: str, voided_only: bool, before: str, limit: int
) -> list[BatchSummary]:
    async with uow:
        return await uow.batches.page(pool_id, voided_only, before, limit)


async def operations(
    uow: InventoryUnitOfWork, pool_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[PoolOperation]:
    async with uow:
        return await uow.batches.operations(pool_id, before, limit)


async def export_keys(
    uow: Callable[[], InventoryUnitOfWork], keys: Keys, selected: KeyFilter, *, with_codes: bool, actor: str
) -> AsyncIterator[list[ExportedKey]]:
    """The selected keys, a page at a time, in key id order. With codes, KeysExported is committed before
    the first key is read, so no code leaves unaudited."""
    rules.check_filter(selected.state)
    if with_codes:
        async with uow() as work:
            count = await work.batches.count(selected)
            pool_id = selected.pool_id
            if selected.batch_id and not pool_id:
                # The log shows the export among its batch's pool's operations.
                batch = await work.batches.load(selected.batch_id)
                pool_id = batch.pool_id if batch is not None else ""
            recorded = rules.exported(
                new_event_id(), actor, batch_id=selected.batch_id, pool_id=pool_id,
                state=selected.state, expires_before=selected.expires_before, keys=count,
            )
            await work.record([recorded], Context(correlation_id=recorded.aggregate_id))
            await work.commit()
    openers: dict[str, Opener] = {}
    after = ""
    while True:
        async with uow() as work:
            page = await work.batches.keys(selected, after, EXPORT_PAGE, with_codes)
        if not page:
            return
        out: list[ExportedKey] = []
        for k in page:
            if with_codes and k.sealed is not None and k.data_key is not None:
                opener = openers.get(k.batch_id)
                if opener is None:
                    opener = openers[k.batch_id] = keys.unwrap(k.data_key, k.batch_id)
                code, password = opener.open(k.key_id, k.sealed)
                out.append(ExportedKey(k, code, password))
            else:
                out.append(ExportedKey(k))
        yield out
        after = page[-1].key_id
