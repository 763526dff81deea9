"""The ledger's ports in Postgres (schema "ledger", see migrations/): the journal, the balances, the UoW."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, AsyncCopy, errors
from psycopg.rows import tuple_row
from quanyi_platform.envelope import new_event_id
from quanyi_platform.uow import PgUnitOfWork

from quanyi_ledger.adapters.proto import JOURNAL_AGGREGATE, JOURNAL_ID
from quanyi_ledger.application.ports import (
    Balances,
    Journal,
    JournalRefused,
    LedgerUnitOfWork,
    MismatchRecord,
    Reconciliations,
)
from quanyi_ledger.domain import accounts
from quanyi_ledger.domain.chain import GENESIS_HASH, ChainLink, RecordedEntry
from quanyi_ledger.domain.journal import JournalEntry, JournalLine
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry
from quanyi_ledger.domain.posting import OrderBook, book_of
from quanyi_ledger.domain.reconciliation import LedgerTxn, RowKind
from quanyi_ledger.domain.reports import ReportQuery, ReportRow

# A batch's entries and lines are COPYed (binary: psycopg formats the rows in C and Postgres parses them
# without a text or JSON pass) into two session-local staging tables, and one statement moves them into the
# journal: the entries in a data-modifying WITH, the lines in the main INSERT, so that the journal's
# statement-level triggers check the whole set (chain, lines, balance) at its end. The same statement empties
# the staging tables (DELETE ... RETURNING), so a batch applied in a savepoint after another (the consumer's
# bisection) never sees rows of the one before; ON COMMIT DELETE ROWS keeps them from growing.
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS journal_entries_incoming (seq bigint, entry_id text,"
    " source_event_id text, kind text, memo text, correlation_id text, occurred_at timestamptz,"
    " prev_hash text, hash text, reference text) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS journal_lines_incoming (entry_seq bigint, line_no int, account text,"
    " debit_minor bigint, credit_minor bigint, currency text, sku_id text) ON COMMIT DELETE ROWS"
)
_COPY_ENTRIES = "COPY journal_entries_incoming FROM STDIN (FORMAT BINARY)"
_ENTRY_TYPES = ["int8", "text", "text", "text", "text", "text", "timestamptz", "text", "text", "text"]
_COPY_LINES = "COPY journal_lines_incoming FROM STDIN (FORMAT BINARY)"
_LINE_TYPES = ["int8", "int4", "text", "int8", "int8", "text", "text"]
_APPEND = (
    "WITH x AS (DELETE FROM journal_entries_incoming RETURNING *),"
    " y AS (DELETE FROM journal_lines_incoming RETURNING *),"
    " entries AS ("
    " INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, memo, correlation_id, occurred_at,"
    " prev_hash, hash, reference)"
    " SELECT x.seq, x.entry_id::uuid, x.source_event_id::uuid, x.kind, x.memo, x.correlation_id,"
    " x.occurred_at, x.prev_hash, x.hash, x.reference FROM x ORDER BY x.seq)"
    " INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency, sku_id)"
    " SELECT y.entry_seq, y.line_no, y.account, y.debit_minor, y.credit_minor, y.currency, y.sku_id FROM y"
)


async def _write_rows(copy: AsyncCopy, rows: Sequence[tuple[Any, ...]]) -> None:
    """`copy.write_row` of each row, without a coroutine per row: the copy's formatter (C) formats the rows
    into its buffer and hands a full buffer back, which is written then (the same bytes write_row sends)."""
    formatter = copy.formatter
    for row in rows:
        if data := formatter.write_row(row):
            await copy.write(data)


class PgJournal(Journal):
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def load(self, sources: Sequence[str]) -> Chain:
        # The sources as one JSON text: psycopg's text dumping of a list of 1,000 ids cost ~1.2 ms a batch.
        cur = await self._conn.execute(
            "SELECT seq, hash, posted FROM journal_lock_head("
            "ARRAY(SELECT s::uuid FROM json_array_elements_text(%s::json) AS s))",
            (json.dumps(list(sources)),),
        )
        row: Any = await cur.fetchone()
        return Chain(int(row["seq"]), str(row["hash"]), frozenset(row["posted"]))

    async def append(self, event: EntriesPosted, while_writing: Callable[[], None] | None = None) -> None:
        try:
            await self._conn.execute(_STAGING)
            entries: list[tuple[Any, ...]] = []
            lines: list[tuple[Any, ...]] = []
            for e in event.entries:
                seq, kind, source, at, entry_lines, prev_hash, hash_hex, reference = e.rec
                entries.append((
                    seq, new_event_id(), source, kind, e.memo, e.correlation_id, at, prev_hash, hash_hex,
                    reference,
                ))
                # A line is (account, debit_minor, credit_minor, currency, sku_id): the staging table's order.
                lines += [(seq, no, *ln) for no, ln in enumerate(entry_lines, start=1)]
            cur = self._conn.cursor()
            async with cur.copy(_COPY_ENTRIES) as copy:
                copy.set_types(_ENTRY_TYPES)
                await _write_rows(copy, entries)
            async with cur.copy(_COPY_LINES) as copy:
                copy.set_types(_LINE_TYPES)
                await _write_rows(copy, lines)
            if while_writing is None:
                await self._conn.execute(_APPEND)
            else:
                # Send the statement, then do the caller's work while Postgres inserts and checks the batch.
                writing = asyncio.ensure_future(self._conn.execute(_APPEND))
                await asyncio.sleep(0)
                try:
                    while_writing()
                finally:
                    await writing
        except (errors.RaiseException, errors.UniqueViolation, errors.CheckViolation) as exc:
            # The transaction is aborted now: the unit of work can only roll back.
            raise JournalRefused(exc.diag.message_primary or str(exc)) from exc

    async def entries(self, after: int = 0, page_size: int = 5_000) -> AsyncIterator[PostedEntry]:
        # Tuple rows and ::text ids: a dict and a UUID object per row cost more than the hashing.
        cur = self._conn.cursor(row_factory=tuple_row)
        while True:
            await cur.execute(
                "SELECT seq, kind, source_event_id::text, occurred_at, prev_hash, hash, memo, correlation_id,"
                " reference FROM journal_entries WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, page_size),
            )
            heads = await cur.fetchall()
            if not heads:
                return
            last = heads[-1][0]
            await cur.execute(
                "SELECT entry_seq, account, debit_minor, credit_minor, currency, sku_id FROM journal_lines"
                " WHERE entry_seq > %s AND entry_seq <= %s ORDER BY entry_seq, line_no",
                (after, last),
            )
            lines: dict[int, list[JournalLine]] = defaultdict(list)
            for seq, account, debit, credit, currency, sku in await cur.fetchall():
                lines[seq].append(JournalLine(account, debit, credit, currency, sku))
            for seq, kind, source, occurred_at, prev_hash, hash_hex, memo, correlation, reference in heads:
                rec = RecordedEntry(
                    seq, kind, source, occurred_at, tuple(lines.get(seq, ())), prev_hash, hash_hex, reference
                )
                yield PostedEntry(rec, memo, correlation)
            after = last

    async def chain_pages(self, page_size: int = 20_000) -> AsyncIterator[Sequence[ChainLink]]:
        # Two server-side cursors in the caller's transaction, the entries and the lines each in its primary
        # key's order, fetched in binary (no text to parse) and merged here: the cost of a page is the
        # page's, however long the journal. The next page of entries is asked for before this one is handed
        # out, so that Postgres reads it while the caller hashes.
        entries = self._conn.cursor("journal_chain_entries", binary=True, row_factory=tuple_row)
        lines = self._conn.cursor("journal_chain_lines", binary=True, row_factory=tuple_row)
        following: asyncio.Future[list[tuple[Any, ...]]] | None = None
        try:
            await entries.execute(
                "SELECT seq, kind, source_event_id::text, occurred_at, prev_hash, hash, reference"
                " FROM journal_entries ORDER BY seq"
            )
            await lines.execute(
                "SELECT entry_seq, account, currency, debit_minor, credit_minor, sku_id FROM journal_lines"
                " ORDER BY entry_seq, line_no"
            )
            buffered: list[tuple[Any, ...]] = []
            at = 0
            lines_left = True
            heads = await entries.fetchmany(page_size)
            while heads:
                last = heads[-1][0]
                while lines_left and (not buffered or buffered[-1][0] <= last):
                    more = await lines.fetchmany(page_size * 3)
                    lines_left = bool(more)
                    buffered = buffered[at:] + more
                    at = 0
                following = asyncio.ensure_future(entries.fetchmany(page_size))
                await asyncio.sleep(0)  # let it send the FETCH before the caller takes the CPU
                page: list[ChainLink] = []
                n = len(buffered)
                for seq, kind, source, occurred_at, prev_hash, hash_hex, reference in heads:
                    while at < n and buffered[at][0] < seq:
                        at += 1  # lines that name no entry
                    start = at
                    while at < n and buffered[at][0] == seq:
                        at += 1
                    rows = tuple(r[1:] for r in buffered[start:at])
                    page.append(
                        ChainLink(seq, kind, source, occurred_at, rows, prev_hash, hash_hex, reference)
                    )
                yield page
                heads = await following
        finally:
            if following is not None and not following.done():
                await asyncio.wait([following])  # the connection is busy until its answer is read
            await entries.close()
            await lines.close()

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

    async def totals(self, as_of: datetime | None = None) -> list[AccountBalance]:
        if as_of is None:
            cur = await self._conn.execute(
                "SELECT account, currency, sum(debit_minor) AS d, sum(credit_minor) AS c FROM journal_lines"
                " GROUP BY account, currency ORDER BY account, currency"
            )
        else:
            cur = await self._conn.execute(
                "SELECT l.account, l.currency, sum(l.debit_minor) AS d, sum(l.credit_minor) AS c"
                " FROM journal_lines l JOIN journal_entries e ON e.seq = l.entry_seq"
                " WHERE e.occurred_at <= %s GROUP BY l.account, l.currency ORDER BY l.account, l.currency",
                (as_of,),
            )
        rows = await cur.fetchall()
        return [AccountBalance(r["account"], r["currency"], int(r["d"]), int(r["c"])) for r in rows]

    async def report(self, query: ReportQuery) -> list[ReportRow]:
        period = query.period.value
        cur = await self._conn.execute(
            "SELECT"
            " CASE WHEN %(period)s = '' THEN ''"
            "  ELSE to_char(date_trunc(%(period)s, e.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
            "  END AS period,"
            " CASE WHEN NOT %(by_channel)s THEN ''"
            "  WHEN starts_with(l.account, 'expense:coupons:') THEN substr(l.account, 17)"
            "  ELSE substr(l.account, strpos(l.account, ':') + 1) END AS channel,"
            " CASE WHEN %(by_sku)s THEN l.sku_id ELSE '' END AS sku_id, l.currency,"
            " sum(CASE WHEN starts_with(l.account, 'revenue:') THEN l.credit_minor - l.debit_minor"
            "  ELSE 0 END) AS sales,"
            " sum(CASE WHEN starts_with(l.account, 'refunds:') THEN l.debit_minor - l.credit_minor"
            "  ELSE 0 END) AS refunds,"
            " sum(CASE WHEN starts_with(l.account, 'cogs:') THEN l.debit_minor - l.credit_minor ELSE 0 END)"
            "  AS cost,"
            " sum(CASE WHEN starts_with(l.account, 'expense:coupons:') THEN l.debit_minor - l.credit_minor"
            "  ELSE 0 END) AS discounts"
            " FROM journal_lines l JOIN journal_entries e ON e.seq = l.entry_seq"
            " WHERE (starts_with(l.account, 'revenue:') OR starts_with(l.account, 'refunds:')"
            "  OR starts_with(l.account, 'cogs:') OR starts_with(l.account, 'expense:coupons:'))"
            " AND (%(start)s::timestamptz IS NULL OR e.occurred_at >= %(start)s::timestamptz)"
            " AND (%(end)s::timestamptz IS NULL OR e.occurred_at < %(end)s::timestamptz)"
            " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
            {
                "period": period,
                "by_channel": "channel" in query.group_by,
                "by_sku": "sku" in query.group_by,
                "start": query.start,
                "end": query.end,
            },
        )
        return [
            ReportRow(r["period"], r["channel"], r["sku_id"], r["currency"], int(r["sales"]),
                      int(r["refunds"]), int(r["cost"]), discounts_minor=int(r["discounts"]))
            for r in await cur.fetchall()
        ]

    async def txns(
        self, provider: str, keys: Sequence[str], start: datetime, end: datetime
    ) -> tuple[dict[str, LedgerTxn], list[LedgerTxn]]:
        # A payment's amount is its debit of the provider's clearing; a paid refund's, its credit.
        cur = await self._conn.execute(
            "SELECT e.kind, e.reference, e.correlation_id, e.occurred_at >= %(start)s"
            "  AND e.occurred_at < %(end)s AS of_day, l.currency,"
            " sum(l.debit_minor) AS d, sum(l.credit_minor) AS c"
            " FROM journal_entries e"
            " JOIN journal_lines l ON l.entry_seq = e.seq AND l.account = %(clearing)s"
            " WHERE e.kind IN ('payment', 'refund_paid') AND e.reference <> ''"
            " AND (e.reference = ANY(%(keys)s::text[])"
            "  OR (e.occurred_at >= %(start)s AND e.occurred_at < %(end)s))"
            " GROUP BY e.seq, e.kind, e.reference, e.correlation_id, e.occurred_at, l.currency"
            " ORDER BY e.seq",
            {"start": start, "end": end, "clearing": accounts.clearing(provider), "keys": list(keys)},
        )
        wanted = set(keys)
        by_key: dict[str, LedgerTxn] = {}
        of_day: list[LedgerTxn] = []
        for r in await cur.fetchall():
            payment = r["kind"] == "payment"
            txn = LedgerTxn(
                RowKind.PAYMENT if payment else RowKind.REFUND,
                r["reference"],
                r["correlation_id"],
                int(r["d"]) if payment else int(r["c"]),
                r["currency"],
            )
            if txn.key in wanted:
                by_key[txn.key] = txn
            if r["of_day"]:
                of_day.append(txn)
        return by_key, of_day

    async def find(self, correlation_id: str = "", reference: str = "") -> list[PostedEntry]:
        cur = await self._conn.execute(
            "SELECT seq FROM journal_entries WHERE (%(c)s <> '' AND correlation_id = %(c)s)"
            " OR (%(r)s <> '' AND reference = %(r)s) ORDER BY seq",
            {"c": correlation_id, "r": reference},
        )
        seqs = {int(r["seq"]) for r in await cur.fetchall()}
        if not seqs:
            return []
        out: list[PostedEntry] = []
        async for entry in self.entries(after=min(seqs) - 1):
            if entry.seq in seqs:
                out.append(entry)
            if entry.seq >= max(seqs):
                break
        return out

    async def hash_at(self, seq: int) -> str | None:
        cur = await self._conn.execute("SELECT hash FROM journal_entries WHERE seq = %s", (seq,))
        row: Any = await cur.fetchone()
        return None if row is None else str(row["hash"])

    async def head(self) -> tuple[int, str]:
        cur = await self._conn.execute("SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1")
        row: Any = await cur.fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row["seq"]), str(row["hash"]))

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


class PgReconciliations(Reconciliations):
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def reconciled(self, statement_id: str) -> bool:
        cur = await self._conn.execute(
            "SELECT 1 FROM reconciliation_statements WHERE statement_id = %s", (statement_id,)
        )
        return await cur.fetchone() is not None

    @staticmethod
    def _record(r: Any) -> MismatchRecord:
        return MismatchRecord(
            mismatch_id=str(r["mismatch_id"]),
            statement_id=str(r["statement_id"]),
            provider=r["provider"],
            kind=int(r["kind"]),
            txn_kind=RowKind(r["txn_kind"]) if r["txn_kind"] else RowKind.PAYMENT,
            key=r["txn_key"],
            order_id=r["order_id"],
            ledger_minor=int(r["ledger_minor"]),
            statement_minor=int(r["statement_minor"]),
            currency=r["currency"],
            detail=r["detail"],
            found_at=r["found_at"],
            resolved_by=r["resolved_by"],
            resolved_at=r["resolved_at"],
            note=r["note"],
            adjustment_minor=int(r["adjustment_minor"]),
        )

    async def mismatch(self, mismatch_id: str) -> MismatchRecord | None:
        try:
            uuid.UUID(mismatch_id)
        except ValueError:
            return None
        cur = await self._conn.execute(
            "SELECT * FROM reconciliation_mismatches WHERE mismatch_id = %s", (mismatch_id,)
        )
        row = await cur.fetchone()
        return None if row is None else self._record(row)

    async def mismatches(
        self,
        include_resolved: bool = False,
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[MismatchRecord]:
        # reconciliation_mismatches_keyset (migration 007) serves it: a page reads its rows and no more. The
        # position is a clause only when there is one ("IS NULL OR" would keep a generic plan off the index).
        after_clause = "" if after is None else " AND (found_at, mismatch_id) > (%s::timestamptz, %s::uuid)"
        cur = await self._conn.execute(
            f"SELECT * FROM reconciliation_mismatches WHERE (%s OR resolved_at IS NULL){after_clause}"
            " ORDER BY found_at, mismatch_id LIMIT %s",
            (include_resolved, *(after or ()), limit),
        )
        return [self._record(r) for r in await cur.fetchall()]


class PgLedgerUnitOfWork(PgUnitOfWork, LedgerUnitOfWork):
    """The ledger's unit of work on Postgres: its own transaction on a pooled connection, or bound to a
    consumer's inbox transaction (`conn=`)."""

    journal: Journal
    balances: Balances
    reconciliations: Reconciliations

    def _bind(self, conn: Any) -> None:
        self.journal = PgJournal(conn)
        self.balances = PgBalances(conn)
        self.reconciliations = PgReconciliations(conn)

    async def read_consistently(self) -> None:
        await self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
