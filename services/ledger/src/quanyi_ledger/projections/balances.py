"""The balances read model: debit and credit totals per account and currency, from EntriesPosted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_ledger.adapters.proto import ENTRIES_POSTED, line_totals


class BalancesProjection(Projection):
    """`balances` (account, currency, debit_total, credit_total): the sums of every posted line.

    One statement per batch: the batch's lines are summed per account and currency in memory (what the
    domain's `balance_changes` folds, read straight from the payloads) and added with one upsert. Sums
    commute, so the rows do not depend on batch boundaries or on the order in which concurrent batches
    are projected.
    """

    name = "balances"
    tables = ("balances",)
    handles = frozenset({ENTRIES_POSTED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        changes = line_totals([e.payload for e in events])
        if not changes:
            return
        keys = sorted(changes)  # a fixed order: concurrent upserts lock rows in the same order
        await conn.execute(
            "INSERT INTO balances (account, currency, debit_total, credit_total)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[])"
            " ON CONFLICT (account, currency) DO UPDATE SET"
            " debit_total = balances.debit_total + EXCLUDED.debit_total,"
            " credit_total = balances.credit_total + EXCLUDED.credit_total",
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [changes[k][0] for k in keys],
                [changes[k][1] for k in keys],
            ),
        )
