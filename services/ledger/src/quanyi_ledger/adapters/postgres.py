"""The ledger's ports in Postgres (schema "ledger", see migrations/): the journal, the balances, the UoW."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from psycopg import AsyncConnection, errors
from quanyi_platform.envelope import new_event_id
from quanyi_platform.uow import PgUnitOfWork

from quanyi_ledger.adapters.proto import JOURNAL_AGGREGATE, JOURNAL_ID
from quanyi_ledger.application.ports import Balances, Journal, JournalRefused, LedgerUnitOfWork
from quanyi_ledger.domain.chain import RecordedEntry
from quanyi_ledger.domain.journal import JournalEntry, JournalLine
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry
from quanyi_ledger.domain.posting import OrderBook, book_of

# The entries in a data-modifying WITH and their lines in the main INSERT: one statement, at whose end
# the journal's statement-level triggers check the whole set (chain, lines, balance).
_APPEND = (
    "WITH entries AS ("
    " INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, memo, correlation_id, occurred_at,"
    " prev_hash, hash, reference)"
    " SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::text[], %s::text[], %s::text[]))"
    " INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency, sku_id)"
    " SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::bigint[], %s::bigint[], %s::text[],"
    " %s::text[])"
)


class PgJournal(Journal):
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def load(self, sources: Sequence[str]) -> Chain:
        cur = await self._conn.execute(
            "SELECT seq, hash, posted FROM journal_lock_head(%s::uuid[])", (list(sources),)
        )
        row: Any = await cur.fetchone()
        return Chain(int(row["seq"]), str(row["hash"]), frozenset(row["posted"]))

    async def append(self, event: EntriesPosted) -> None:
        entries = event.entries
        recs = [e.rec for e in entries]
        lines = [(r.seq, no, ln) for r in recs for no, ln in enumerate(r.lines, start=1)]
        try:
            await self._conn.execute(
                _APPEND,
                (
                    [r.seq for r in recs],
                    [new_event_id() for _ in recs],
                    [r.source_event_id for r in recs],
                    [r.kind for r in recs],
                    [e.memo for e in entries],
                    [e.correlation_id for e in entries],
                    [r.occurred_at for r in recs],
                    [r.prev_hash for r in recs],
                    [r.hash for r in recs],
                    [r.reference for r in recs],
                    [seq for seq, _, _ in lines],
                    [no for _, no, _ in lines],
                    [ln.account for _, _, ln in lines],
                    [ln.debit_minor for _, _, ln in lines],
                    [ln.credit_minor for _, _, ln in lines],
                    [ln.currency for _, _, ln in lines],
                    [ln.sku_id for _, _, ln in lines],
                ),
            )
        except (errors.RaiseException, errors.UniqueViolation, errors.CheckViolation) as exc:
            # The transaction is aborted now: the unit of work can only roll back.
            raise JournalRefused(exc.diag.message_primary or str(exc)) from exc

    async def entries(self, after: int = 0, page_size: int = 2_000) -> AsyncIterator[PostedEntry]:
        while True:
            cur = await self._conn.execute(
                "SELECT seq, kind, source_event_id, occurred_at, prev_hash, hash, memo, correlation_id,"
                " reference FROM journal_entries WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, page_size),
            )
            heads = await cur.fetchall()
            if not heads:
                return
            last = int(heads[-1]["seq"])
            cur = await self._conn.execute(
                "SELECT entry_seq, account, debit_minor, credit_minor, currency, sku_id FROM journal_lines"
                " WHERE entry_seq > %s AND entry_seq <= %s ORDER BY entry_seq, line_no",
                (after, last),
            )
            lines: dict[int, list[JournalLine]] = defaultdict(list)
            for r in await cur.fetchall():
                lines[int(r["entry_seq"])].append(
                    JournalLine(r["account"], int(r["debit_minor"]), int(r["credit_minor"]), r["currency"],
                                r["sku_id"])
                )
            for h in heads:
                seq = int(h["seq"])
                rec = RecordedEntry(
                    seq=seq,
                    kind=h["kind"],
                    source_event_id=str(h["source_event_id"]),
                    occurred_at=h["occurred_at"],
                    lines=tuple(lines.get(seq, ())),
                    prev_hash=h["prev_hash"],
                    hash=h["hash"],
                    reference=h["reference"],
                )
                yield PostedEntry(rec, h["memo"], h["correlation_id"])
            after = last

    async def order_books(self, order_ids: Sequence[str]) -> dict[str, OrderBook]:
        cur = await self._conn.execute(
            "SELECT e.seq, e.correlation_id, e.kind, e.source_event_id, e.occurred_at, l.account,"
            " l.debit_minor, l.credit_minor, l.currency, l.sku_id"
            " FROM journal_entries e JOIN journal_lines l ON l.entry_seq = e.seq"
            " WHERE e.correlation_id = ANY(%s::text[]) ORDER BY e.seq, l.line_no",
            (list(order_ids),),
        )
        by_order: dict[str, dict[int, JournalEntry]] = defaultdict(dict)
        lines: dict[int, list[JournalLine]] = defaultdict(list)
        heads: dict[int, Any] = {}
        for r in await cur.fetchall():
            seq = int(r["seq"])
            heads[seq] = r
            lines[seq].append(
                JournalLine(r["account"], int(r["debit_minor"]), int(r["credit_minor"]), r["currency"],
                            r["sku_id"])
            )
        for seq, h in heads.items():
            by_order[h["correlation_id"]][seq] = JournalEntry(
                h["kind"], str(h["source_event_id"]), h["occurred_at"], "", tuple(lines[seq])
            )
        return {o: book_of(es[s] for s in sorted(es)) for o, es in by_order.items()}

    async def totals(self) -> list[AccountBalance]:
        cur = await self._conn.execute(
            "SELECT account, currency, sum(debit_minor) AS d, sum(credit_minor) AS c FROM journal_lines"
            " GROUP BY account, currency ORDER BY account, currency"
        )
        rows = await cur.fetchall()
        return [AccountBalance(r["account"], r["currency"], int(r["d"]), int(r["c"])) for r in rows]

    async def announced_seq(self) -> int:
        cur = await self._conn.execute(
            "SELECT coalesce(max(aggregate_version), 0) AS seq FROM events"
            " WHERE aggregate_type = %s AND aggregate_id = %s",
            (JOURNAL_AGGREGATE, JOURNAL_ID),
        )
        row: Any = await cur.fetchone()
        return int(row["seq"])


class PgBalances(Balances):
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def list(self, account_prefix: str = "") -> list[AccountBalance]:
        cur = await self._conn.execute(
            "SELECT account, currency, debit_total, credit_total FROM balances"
            " WHERE starts_with(account, %s) ORDER BY account, currency",
            (account_prefix,),
        )
        return [
            AccountBalance(r["account"], r["currency"], int(r["debit_total"]), int(r["credit_total"]))
            for r in await cur.fetchall()
        ]


class PgLedgerUnitOfWork(PgUnitOfWork, LedgerUnitOfWork):
    """The ledger's unit of work on Postgres: its own transaction on a pooled connection, or bound to a
    consumer's inbox transaction (`conn=`)."""

    journal: Journal
    balances: Balances

    def _bind(self, conn: Any) -> None:
        self.journal = PgJournal(conn)
        self.balances = PgBalances(conn)

    async def read_consistently(self) -> None:
        await self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
