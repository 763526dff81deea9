"""Balances as of an instant, the trial balance, and sales reports (whose exports are audited)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.envelope import new_event_id

from quanyi_ledger.adapters.proto import report_exported_event
from quanyi_ledger.application.ports import Catalogue, LedgerUnitOfWork
from quanyi_ledger.domain.ledger import AccountBalance
from quanyi_ledger.domain.reports import ReportQuery, ReportRow, by_product


@dataclass(frozen=True)
class TrialBalance:
    rows: list[AccountBalance]
    head_seq: int

    @property
    def balanced(self) -> bool:
        """Debits equal credits in every currency."""
        net: dict[str, int] = defaultdict(int)
        for r in self.rows:
            net[r.currency] += r.debit_total - r.credit_total
        return all(v == 0 for v in net.values())


async def balances_as_of(
    uow: LedgerUnitOfWork, as_of: datetime, account_prefix: str = ""
) -> list[AccountBalance]:
    """Every account's totals counting the entries whose facts happened at or before `as_of`."""
    async with uow:
        rows = await uow.journal.totals(as_of)
    return [r for r in rows if r.account.startswith(account_prefix)]


async def trial_balance(uow: LedgerUnitOfWork, as_of: datetime | None = None) -> TrialBalance:
    """Every account's debit and credit totals (as of `as_of`, or now), from one snapshot."""
    async with uow:
        await uow.read_consistently()
        rows = await uow.journal.totals(as_of)
        seq, _ = await uow.journal.head()
    return TrialBalance(rows, seq)


async def report(
    uow: LedgerUnitOfWork,
    query: ReportQuery,
    export_format: str = "",
    actor: str = "",
    catalogue: Catalogue | None = None,
) -> list[ReportRow]:
    """The report's rows; by product, the catalogue maps the journal's SKUs to products. When they are
    exported as a file (`export_format`), the export is recorded as ReportExported (who, what, how many
    rows, up to which entry) in the same transaction."""
    async with uow:
        rows = await uow.journal.report(query.for_storage())
        if "product" in query.group_by:
            skus = sorted({r.sku_id for r in rows if r.sku_id})
            products = await catalogue.products_of(skus) if catalogue is not None and skus else {}
            rows = by_product(rows, products, keep_sku="sku" in query.group_by)
        if export_format:
            seq, _ = await uow.journal.head()
            await uow.events.append([
                report_exported_event(
                    actor or "unknown", query.describe(), export_format, len(rows), seq, new_event_id()
                )
            ])
            await uow.commit()
    return rows
