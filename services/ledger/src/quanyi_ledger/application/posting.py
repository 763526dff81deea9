"""Posting an entry to the journal and announcing it."""

from __future__ import annotations

import logging
from typing import Any

from psycopg import AsyncConnection
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_ledger.adapters import journal_store
from quanyi_ledger.domain.chain import RecordedEntry, link
from quanyi_ledger.domain.journal import JournalEntry

log = logging.getLogger(__name__)


async def post_entry(
    conn: AsyncConnection[Any],
    store: EventStore,
    entry: JournalEntry,
    *,
    correlation_id: str,
    causation_id: str,
) -> RecordedEntry | None:
    """Append `entry` at the end of the chain and record LedgerPosted, in the caller's transaction.

    Guarantees: entries get consecutive seqs in one total order (posters serialise on a transaction-scoped
    advisory lock, so the chain cannot fork); the entry, its lines, the balances and the event commit
    together or not at all. An entry whose source event is already posted changes nothing and returns None.
    """
    await journal_store.lock_for_posting(conn)
    seq, prev_hash = await journal_store.chain_tail(conn)
    rec = link(entry, seq + 1, prev_hash)
    if not await journal_store.insert_entry(conn, rec, memo=entry.memo, correlation_id=correlation_id):
        log.warning("source event already posted; ignored", extra={"source_event_id": entry.source_event_id})
        return None
    await store.append(
        conn,
        [
            NewEvent(
                aggregate_type=journal_store.LEDGER_POSTED_AGGREGATE,
                aggregate_id=str(rec.seq),
                aggregate_version=1,
                payload=ledger_events.LedgerPosted(
                    entry_seq=rec.seq, source_event_id=rec.source_event_id, kind=rec.kind, hash=rec.hash
                ),
                correlation_id=correlation_id,
                causation_id=causation_id,
            )
        ],
    )
    return rec
