"""In-memory fakes of the ledger's ports, for unit tests: the same guarantees, no database.

Units of work over one InMemoryLedger are meant to run one after the other (one task), so the
serialisation that Journal.load promises holds trivially.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork

from quanyi_ledger.adapters.proto import JOURNAL_AGGREGATE, JOURNAL_ID, entries_posted_of
from quanyi_ledger.application.ports import Balances, Journal, JournalRefused, LedgerUnitOfWork
from quanyi_ledger.domain.chain import GENESIS_HASH
from quanyi_ledger.domain.journal import JournalEntry, entry_problems
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry, balances_of
from quanyi_ledger.domain.posting import OrderBook, book_of


@dataclass
class InMemoryLedger:
    """What the fakes share across units of work, as a database would: the journal and the event log."""

    events: InMemoryEventLog = field(default_factory=lambda: InMemoryEventLog("ledger"))
    journal: list[PostedEntry] = field(default_factory=list)
    pending: list[PostedEntry] = field(default_factory=list)


class InMemoryJournal(Journal):
    def __init__(self, db: InMemoryLedger) -> None:
        self._db = db

    def _all(self) -> list[PostedEntry]:
        return [*self._db.journal, *self._db.pending]

    async def load(self, sources: Sequence[str]) -> Chain:
        entries = self._all()
        wanted = set(sources)
        posted = frozenset(e.rec.source_event_id for e in entries if e.rec.source_event_id in wanted)
        if not entries:
            return Chain(0, GENESIS_HASH, posted)
        return Chain(entries[-1].seq, entries[-1].rec.hash, posted)

    async def append(self, event: EntriesPosted) -> None:
        entries = self._all()
        seq, prev_hash = (entries[-1].seq, entries[-1].rec.hash) if entries else (0, GENESIS_HASH)
        sources = {e.rec.source_event_id for e in entries}
        for entry in event.entries:
            rec = entry.rec
            if rec.seq != seq + 1 or rec.prev_hash != prev_hash:
                raise JournalRefused(
                    f"journal entry {rec.seq} does not extend the chain, which ends at entry {seq}"
                )
            problems = entry_problems(rec.lines)
            if problems:
                raise JournalRefused(f"journal entry {rec.seq}: " + "; ".join(problems))
            if rec.source_event_id in sources:
                raise JournalRefused(f"source event {rec.source_event_id} is posted already")
            sources.add(rec.source_event_id)
            seq, prev_hash = rec.seq, rec.hash
        self._db.pending.extend(event.entries)

    async def entries(self, after: int = 0) -> AsyncIterator[PostedEntry]:
        for entry in self._all():
            if entry.seq > after:
                yield entry

    async def order_books(self, order_ids: Sequence[str]) -> dict[str, OrderBook]:
        wanted = set(order_ids)
        found: dict[str, list[JournalEntry]] = {}
        for e in self._all():
            if e.correlation_id in wanted:
                r = e.rec
                entry = JournalEntry(r.kind, r.source_event_id, r.occurred_at, "", r.lines)
                found.setdefault(e.correlation_id, []).append(entry)
        return {o: book_of(es) for o, es in found.items()}

    async def totals(self) -> list[AccountBalance]:
        return balances_of([EntriesPosted(tuple(entries))] if (entries := tuple(self._all())) else [])

    async def announced_seq(self) -> int:
        versions = [
            e.aggregate_version
            for e in self._db.events.all()
            if e.envelope.aggregate_type == JOURNAL_AGGREGATE and e.aggregate_id == JOURNAL_ID
        ]
        return max(versions, default=0)


class InMemoryBalances(Balances):
    """The balances projection, folded from the event log's EntriesPosted (committed and pending)."""

    def __init__(self, db: InMemoryLedger) -> None:
        self._db = db

    async def list(self, account_prefix: str = "") -> list[AccountBalance]:
        events = entries_posted_of([e.payload for e in self._db.events.all()])
        return [b for b in balances_of(events) if b.account.startswith(account_prefix)]


class InMemoryLedgerUnitOfWork(InMemoryUnitOfWork, LedgerUnitOfWork):
    """A unit of work over an InMemoryLedger: commit keeps its journal entries and events, leaving without
    commit drops them."""

    journal: Journal
    balances: Balances

    def __init__(self, db: InMemoryLedger | None = None) -> None:
        self.db = db or InMemoryLedger()
        super().__init__(self.db.events)
        self.journal = InMemoryJournal(self.db)
        self.balances = InMemoryBalances(self.db)

    async def read_consistently(self) -> None:
        return None  # nothing changes the fakes between two reads of one task

    def _on_commit(self) -> None:
        self.db.journal.extend(self.db.pending)
        self.db.pending.clear()

    async def _end(self, commit: bool) -> None:
        self.db.pending.clear()
        await super()._end(commit)
