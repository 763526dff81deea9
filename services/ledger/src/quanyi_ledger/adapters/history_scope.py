"""The ledger's part of an order's cross-service history (quanyi_platform.event_history)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.event_history import HistoryScope

from quanyi_ledger.adapters.proto import JOURNAL_AGGREGATE, JOURNAL_ID


class LedgerHistoryScope(HistoryScope):
    """An EntriesPosted event carries a batch of several orders' entries under its first entry's
    correlation id; an order's entries (journal_entries, by correlation id) lead to the events that carry
    them: the journal aggregate's first version at or after each entry's seq. Index look-ups only."""

    async def related_seqs(self, conn: AsyncConnection[Any], correlation_ids: Sequence[str]) -> Sequence[int]:
        cur = await conn.execute(
            "SELECT DISTINCT (SELECT e.seq FROM events e WHERE e.aggregate_type = %s AND e.aggregate_id = %s"
            "  AND e.aggregate_version >= j.seq ORDER BY e.aggregate_version LIMIT 1) AS seq"
            " FROM journal_entries j WHERE j.correlation_id = ANY(%s::text[])",
            (JOURNAL_AGGREGATE, JOURNAL_ID, list(correlation_ids)),
        )
        return [int(r["seq"]) for r in await cur.fetchall() if r["seq"] is not None]
