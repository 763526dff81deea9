"""In-memory fakes of the ledger's ports, for unit tests: the same guarantees, no database.

Units of work over one InMemoryLedger are meant to run one after the other (one task), so the
serialisation that Journal.load promises holds trivially.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from quanyi.ledger.v1 import events_pb2 as ev
from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork

from quanyi_ledger.adapters.proto import JOURNAL_AGGREGATE, JOURNAL_ID, entries_posted_of
from quanyi_ledger.application.ports import (
    Balances,
    Journal,
    JournalRefused,
    LedgerUnitOfWork,
    MismatchRecord,
    Reconciliations,
)
from quanyi_ledger.domain import accounts, reports
from quanyi_ledger.domain.chain import GENESIS_HASH, ChainLink
from quanyi_ledger.domain.journal import JournalEntry, entry_problems
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry, balances_of
from quanyi_ledger.domain.posting import OrderBook, book_of
from quanyi_ledger.domain.reconciliation import LedgerTxn, RowKind
from quanyi_ledger.domain.reports import ReportQuery, ReportRow


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

    async def append(self, event: EntriesPosted, while_writing: Callable[[], None] | None = None) -> None:
        if while_writing is not None:
            while_writing()
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

    async def chain_pages(self) -> AsyncIterator[Sequence[ChainLink]]:
        page = [
            ChainLink(
                r.seq, r.kind, r.source_event_id, r.occurred_at,
                tuple(
                    (ln.account, ln.currency, ln.debit_minor, ln.credit_minor, ln.sku_id) for ln in r.lines
                ),
                r.prev_hash, r.hash, r.reference,
            )
            for r in (e.rec for e in self._all())
        ]
        if page:
            yield page

    async def order_books(self, order_ids: Sequence[str]) -> dict[str, OrderBook]:
        wanted = set(order_ids)
        found: dict[str, list[JournalEntry]] = {}
        for e in self._all():
            if e.correlation_id in wanted:
                r = e.rec
                entry = JournalEntry(r.kind, r.source_event_id, r.occurred_at, "", r.lines)
                found.setdefault(e.correlation_id, []).append(entry)
        return {o: book_of(es) for o, es in found.items()}

    async def totals(self, as_of: datetime | None = None) -> list[AccountBalance]:
        entries = tuple(e for e in self._all() if as_of is None or e.rec.occurred_at <= as_of)
        return balances_of([EntriesPosted(entries)] if entries else [])

    async def report(self, query: ReportQuery) -> list[ReportRow]:
        return reports.report((e.rec for e in self._all()), query)

    async def txns(
        self, provider: str, keys: Sequence[str], start: datetime, end: datetime
    ) -> tuple[dict[str, LedgerTxn], list[LedgerTxn]]:
        clearing = accounts.clearing(provider)
        wanted = set(keys)
        by_key: dict[str, LedgerTxn] = {}
        of_day: list[LedgerTxn] = []
        for e in self._all():
            r = e.rec
            if r.kind not in ("payment", "refund_paid") or not r.reference:
                continue
            lines = [ln for ln in r.lines if ln.account == clearing]
            if not lines:
                continue
            payment = r.kind == "payment"
            amount = sum(ln.debit_minor if payment else ln.credit_minor for ln in lines)
            kind = RowKind.PAYMENT if payment else RowKind.REFUND
            txn = LedgerTxn(kind, r.reference, e.correlation_id, amount, lines[0].currency)
            if txn.key in wanted:
                by_key[txn.key] = txn
            if start <= r.occurred_at < end:
                of_day.append(txn)
        return by_key, of_day

    async def find(self, correlation_id: str = "", reference: str = "") -> list[PostedEntry]:
        return [
            e for e in self._all()
            if (correlation_id and e.correlation_id == correlation_id)
            or (reference and e.rec.reference == reference)
        ]

    async def hash_at(self, seq: int) -> str | None:
        return next((e.rec.hash for e in self._all() if e.seq == seq), None)

    async def head(self) -> tuple[int, str]:
        entries = self._all()
        return (entries[-1].seq, entries[-1].rec.hash) if entries else (0, GENESIS_HASH)

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


class InMemoryReconciliations(Reconciliations):
    """The reconciliation projections, folded from the event log (committed and pending)."""

    def __init__(self, db: InMemoryLedger) -> None:
        self._db = db

    def _fold(self) -> tuple[set[str], dict[str, MismatchRecord]]:
        runs: set[str] = set()
        found: dict[str, MismatchRecord] = {}
        for e in self._db.events.all():
            p = e.payload
            if isinstance(p, ev.StatementReconciled):
                runs.add(p.statement_id)
            elif isinstance(p, ev.ReconciliationMismatch) and p.mismatch_id not in found:
                found[p.mismatch_id] = MismatchRecord(
                    p.mismatch_id, p.statement_id, p.provider, int(p.kind),
                    RowKind(p.txn_kind or "payment"), p.provider_txn_id, p.order_id,
                    p.ledger_amount.minor_units, p.statement_amount.minor_units,
                    p.ledger_amount.currency or p.statement_amount.currency, p.detail, e.occurred_at,
                )
            elif isinstance(p, ev.MismatchResolved) and p.mismatch_id in found:
                m = found[p.mismatch_id]
                if not m.resolved:
                    found[p.mismatch_id] = replace(
                        m, resolved_by=p.actor, resolved_at=e.occurred_at, note=p.note,
                        adjustment_minor=p.adjustment.minor_units,
                    )
        return runs, found

    async def reconciled(self, statement_id: str) -> bool:
        return statement_id in self._fold()[0]

    async def mismatch(self, mismatch_id: str) -> MismatchRecord | None:
        return self._fold()[1].get(mismatch_id)

    async def mismatches(
        self,
        include_resolved: bool = False,
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[MismatchRecord]:
        found = self._fold()[1].values()
        wanted = [
            m for m in found
            if (include_resolved or not m.resolved) and (after is None or (m.found_at, m.mismatch_id) > after)
        ]
        return sorted(wanted, key=lambda m: (m.found_at, m.mismatch_id))[:limit]


class InMemoryLedgerUnitOfWork(InMemoryUnitOfWork, LedgerUnitOfWork):
    """A unit of work over an InMemoryLedger: commit keeps its journal entries and events, leaving without
    commit drops them."""

    journal: Journal
    balances: Balances
    reconciliations: Reconciliations

    def __init__(self, db: InMemoryLedger | None = None) -> None:
        self.db = db or InMemoryLedger()
        super().__init__(self.db.events)
        self.journal = InMemoryJournal(self.db)
        self.balances = InMemoryBalances(self.db)
        self.reconciliations = InMemoryReconciliations(self.db)

    async def read_consistently(self) -> None:
        return None  # nothing changes the fakes between two reads of one task

    def _on_commit(self) -> None:
        self.db.journal.extend(self.db.pending)
        self.db.pending.clear()

    async def _end(self, commit: bool) -> None:
        self.db.pending.clear()
        await super()._end(commit)
