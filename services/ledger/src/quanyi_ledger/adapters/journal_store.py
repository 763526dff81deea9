"""The journal and its balances read model in Postgres (schema "ledger", see migrations/001_ledger.sql)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.envelope import new_event_id

from quanyi_ledger.domain.chain import GENESIS_HASH, RecordedEntry
from quanyi_ledger.domain.journal import JournalLine

# Serialises posting: one poster at a time extends the chain. Advisory locks are database-wide, so the
# key is the ledger's own (the platform's migration lock is 7_104_201).
POSTING_LOCK = 7_104_254

LEDGER_POSTED_AGGREGATE = "JournalEntry"


async def lock_for_posting(conn: AsyncConnection[Any]) -> None:
    """Wait for the posting lock, held until the caller's transaction ends (reentrant within it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTING_LOCK,))


async def chain_tail(conn: AsyncConnection[Any], sources: list[str]) -> tuple[int, str, set[str]]:
    """The last entry's seq and hash ((0, genesis) for an empty journal), and which of `sources` (source
    event ids) are posted already. Read after lock_for_posting."""
    cur = await conn.execute(
        "SELECT t.seq, t.hash, ARRAY(SELECT source_event_id::text FROM journal_entries"
        " WHERE source_event_id = ANY(%s::uuid[])) AS posted"
        " FROM (SELECT 1) AS one LEFT JOIN LATERAL"
        " (SELECT seq, hash FROM journal_entries ORDER BY seq DESC LIMIT 1) AS t ON true",
        (sources,),
    )
    row: Any = await cur.fetchone()
    posted = set(row["posted"])
    if row["seq"] is None:
        return 0, GENESIS_HASH, posted
    return int(row["seq"]), str(row["hash"]), posted


@dataclass(frozen=True)
class NewEntry:
    """An entry linked into the chain, with what the chain does not cover."""

    rec: RecordedEntry
    memo: str
    correlation_id: str


async def insert_entries(conn: AsyncConnection[Any], entries: list[NewEntry]) -> None:
    """Append `entries` (consecutive seqs, in order) and their lines, and add them to the balances, in the
    caller's transaction: three statements however many entries."""
    if not entries:
        return
    recs = [e.rec for e in entries]
    # In seq order: the row trigger journal_check_link sees each row's predecessor, inserted just before.
    await conn.execute(
        "INSERT INTO journal_entries (seq, entry_id, source_event_id, kind, memo, correlation_id,"
        " occurred_at, prev_hash, hash)"
        " SELECT * FROM unnest(%s::bigint[], %s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[],"
        " %s::timestamptz[], %s::text[], %s::text[]) AS u ORDER BY 1",
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
        ),
    )
    lines = [(r.seq, no, ln) for r in recs for no, ln in enumerate(r.lines, start=1)]
    await conn.execute(
        "INSERT INTO journal_lines (entry_seq, line_no, account, debit_minor, credit_minor, currency)"
        " SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::bigint[], %s::bigint[], %s::text[])",
        (
            [seq for seq, _, _ in lines],
            [no for _, no, _ in lines],
            [ln.account for _, _, ln in lines],
            [ln.debit_minor for _, _, ln in lines],
            [ln.credit_minor for _, _, ln in lines],
            [ln.currency for _, _, ln in lines],
        ),
    )
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _, _, ln in lines:
        totals[(ln.account, ln.currency)][0] += ln.debit_minor
        totals[(ln.account, ln.currency)][1] += ln.credit_minor
    keys = sorted(totals)  # a fixed order, so concurrent posters (serialised anyway) cannot deadlock
    await conn.execute(
        "INSERT INTO balances (account, currency, debit_total, credit_total)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[])"
        " ON CONFLICT (account, currency) DO UPDATE SET"
        " debit_total = balances.debit_total + EXCLUDED.debit_total,"
        " credit_total = balances.credit_total + EXCLUDED.credit_total",
        (
            [k[0] for k in keys],
            [k[1] for k in keys],
            [totals[k][0] for k in keys],
            [totals[k][1] for k in keys],
        ),
    )


@dataclass(frozen=True)
class AccountBalance:
    account: str
    currency: str
    debit_total: int
    credit_total: int

    @property
    def balance_minor(self) -> int:
        """Debits minus credits."""
        return self.debit_total - self.credit_total


async def balances(conn: AsyncConnection[Any], account_prefix: str = "") -> list[AccountBalance]:
    """Every account's totals from the read model; if a prefix is given, only accounts starting with it."""
    cur = await conn.execute(
        "SELECT account, currency, debit_total, credit_total FROM balances"
        " WHERE starts_with(account, %s) ORDER BY account, currency",
        (account_prefix,),
    )
    return [
        AccountBalance(r["account"], r["currency"], int(r["debit_total"]), int(r["credit_total"]))
        for r in await cur.fetchall()
    ]


async def journal_totals(conn: AsyncConnection[Any]) -> list[AccountBalance]:
    """Every account's totals summed from the journal itself, by account."""
    cur = await conn.execute(
        "SELECT account, currency, sum(debit_minor) AS d, sum(credit_minor) AS c FROM journal_lines"
        " GROUP BY account, currency ORDER BY account, currency"
    )
    rows = await cur.fetchall()
    return [AccountBalance(r["account"], r["currency"], int(r["d"]), int(r["c"])) for r in rows]


async def rebuild_balances(conn: AsyncConnection[Any]) -> int:
    """Replace the balances read model with the journal's sums, in the caller's transaction."""
    await lock_for_posting(conn)
    cur = await conn.execute("SELECT rebuild_balances() AS n")
    row: Any = await cur.fetchone()
    return int(row["n"])


async def recorded_entries(
    conn: AsyncConnection[Any], page_size: int = 2_000
) -> AsyncIterator[RecordedEntry]:
    """Every entry with its lines, in seq order, read a page at a time."""
    after = 0
    while True:
        cur = await conn.execute(
            "SELECT seq, kind, source_event_id, occurred_at, prev_hash, hash FROM journal_entries"
            " WHERE seq > %s ORDER BY seq LIMIT %s",
            (after, page_size),
        )
        heads = await cur.fetchall()
        if not heads:
            return
        last = int(heads[-1]["seq"])
        cur = await conn.execute(
            "SELECT entry_seq, account, debit_minor, credit_minor, currency FROM journal_lines"
            " WHERE entry_seq > %s AND entry_seq <= %s ORDER BY entry_seq, line_no",
            (after, last),
        )
        lines: dict[int, list[JournalLine]] = defaultdict(list)
        for r in await cur.fetchall():
            lines[int(r["entry_seq"])].append(
                JournalLine(r["account"], int(r["debit_minor"]), int(r["credit_minor"]), r["currency"])
            )
        for h in heads:
            seq = int(h["seq"])
            yield RecordedEntry(
                seq=seq,
                kind=h["kind"],
                source_event_id=str(h["source_event_id"]),
                occurred_at=h["occurred_at"],
                lines=tuple(lines.get(seq, ())),
                prev_hash=h["prev_hash"],
                hash=h["hash"],
            )
        after = last


async def last_announced_seq(conn: AsyncConnection[Any]) -> int:
    """The highest entry seq a LedgerPosted event in the event store names, 0 when none."""
    cur = await conn.execute(
        "SELECT coalesce(max(aggregate_id::bigint), 0) AS seq FROM events WHERE aggregate_type = %s",
        (LEDGER_POSTED_AGGREGATE,),
    )
    row: Any = await cur.fetchone()
    return int(row["seq"])
