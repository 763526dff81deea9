"""Bringing a journal posted before the ledger was event-sourced into its event store."""

from __future__ import annotations

from quanyi_ledger.adapters.proto import entries_posted_events
from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.domain.ledger import EntriesPosted, PostedEntry


async def announce_unannounced(uow: LedgerUnitOfWork) -> int:
    """Record EntriesPosted for the journal's entries that no event announced yet; returns how many.

    Entries posted before the ledger recorded EntriesPosted have no such event, so neither the balances
    projection (emptied by migration 002) nor a replay would count them. This records them once, in
    order, under the posting lock; on a journal whose entries all have their event it records nothing.
    """
    async with uow:
        chain = await uow.journal.load([])  # takes the posting lock: no poster runs meanwhile
        announced = await uow.journal.announced_seq()
        if chain.seq <= announced:
            return 0
        entries: list[PostedEntry] = [e async for e in uow.journal.entries(after=announced)]
        await uow.events.append(entries_posted_events(EntriesPosted(tuple(entries))))
        await uow.commit()
    return len(entries)
