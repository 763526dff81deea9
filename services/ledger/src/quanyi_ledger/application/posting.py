"""Posting an entry to the journal and announcing it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_ledger.adapters import journal_store
from quanyi_ledger.domain.chain import RecordedEntry, link
from quanyi_ledger.domain.journal import JournalEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posting:
    """An entry to post, with the order it concerns and the event that caused it."""

    entry: JournalEntry
    correlation_id: str
    causation_id: str


async def post_entries(
    conn: AsyncConnection[Any], store: EventStore, postings: Sequence[Posting]
) -> list[RecordedEntry]:
    """Append the postings' entries, in order, at the end of the chain and record a LedgerPosted for each,
    in the caller's transaction. Returns the entries appended.

    Guarantees: entries get consecutive seqs in one total order (posters serialise on a transaction-scoped
    advisory lock, so the chain cannot fork); the entries, their lines, the balances and the events commit
    together or not at all. An entry whose source event is posted already (or earlier in `postings`) is
    skipped. However many postings, it costs six statements.
    """
    if not postings:
        return []
    await journal_store.lock_for_posting(conn)
    seq, prev_hash, posted = await journal_store.chain_tail(
        conn, [p.entry.source_event_id for p in postings]
    )
    linked: list[tuple[journal_store.NewEntry, Posting]] = []
    for p in postings:
        if p.entry.source_event_id in posted:
            log.warning(
                "source event already posted; ignored", extra={"source_event_id": p.entry.source_event_id}
            )
            continue
        posted.add(p.entry.source_event_id)
        rec = link(p.entry, seq + 1, prev_hash)
        seq, prev_hash = rec.seq, rec.hash
        linked.append((journal_store.NewEntry(rec, p.entry.memo, p.correlation_id), p))
    await journal_store.insert_entries(conn, [new for new, _ in linked])
    await store.append(
        conn,
        [
            NewEvent(
                aggregate_type=journal_store.LEDGER_POSTED_AGGREGATE,
                aggregate_id=str(new.rec.seq),
                aggregate_version=1,
                payload=ledger_events.LedgerPosted(
                    entry_seq=new.rec.seq,
                    source_event_id=new.rec.source_event_id,
                    kind=new.rec.kind,
                    hash=new.rec.hash,
                ),
                correlation_id=p.correlation_id,
                causation_id=p.causation_id,
            )
            for new, p in linked
        ],
    )
    return [new.rec for new, _ in linked]

