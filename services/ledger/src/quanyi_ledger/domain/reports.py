"""Sales reports from the journal: sales, refunds, cost and gross margin by period, channel and SKU.

A line counts by its account: ``revenue:<channel>`` credits are sales, ``refunds:<channel>`` debits are
refunds, ``expense:coupons:<channel>`` debits are discounts (coupons the operator funds: sales are gross of
them), ``cogs:<channel>`` debits are cost (each net of the other side, so a reversal nets out). The
period is the UTC day, ISO week (from Monday) or month of the fact (the entry's occurred_at).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum

from quanyi_ledger.domain.chain import RecordedEntry


class Period(Enum):
    NONE = ""
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


GROUPS = frozenset({"sku", "channel", "product"})


@dataclass(frozen=True)
class ReportQuery:
    """Facts in [start, end) (None: unbounded), bucketed by `period`, grouped by `group_by` ⊆ GROUPS."""

    start: datetime | None = None
    end: datetime | None = None
    period: Period = Period.NONE
    group_by: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = self.group_by - GROUPS
        if unknown:
            raise ValueError(
                f"cannot group by {', '.join(sorted(unknown))}; only by product, sku and channel"
            )
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise ValueError("report bounds must be timezone-aware")
        if self.start and self.end and self.end < self.start:
            raise ValueError("the report's end is before its start")

    def for_storage(self) -> ReportQuery:
        """The query the journal answers: by SKU instead of by product (the journal knows SKUs; products
        are mapped afterwards with `by_product`)."""
        if "product" not in self.group_by:
            return self
        return replace(self, group_by=(self.group_by - {"product"}) | {"sku"})

    def describe(self) -> str:
        by = " and ".join(sorted(self.group_by)) or "total"
        per = f" per {self.period.value}" if self.period is not Period.NONE else ""
        start = self.start.isoformat() if self.start else "start"
        end = self.end.isoformat() if self.end else "now"
        return f"sales by {by}{per}, {start} .. {end}"


@dataclass(frozen=True)
class ReportRow:
    period: str
    channel: str
    sku_id: str
    currency: str
    sales_minor: int
    refunds_minor: int
    cost_minor: int
    product_id: str = ""
    discounts_minor: int = 0

    @property
    def margin_minor(self) -> int:
        """Gross margin: sales − refunds − discounts − cost."""
        return self.sales_minor - self.refunds_minor - self.discounts_minor - self.cost_minor


def period_start(t: datetime, period: Period) -> str:
    """The first day (UTC, YYYY-MM-DD) of the bucket `t` falls in; empty without a period."""
    day = t.astimezone(UTC).date()
    if period is Period.DAY:
        return day.isoformat()
    if period is Period.WEEK:
        return (day - timedelta(days=day.weekday())).isoformat()
    if period is Period.MONTH:
        return day.replace(day=1).isoformat()
    return ""


MEASURES = {"revenue": 0, "refunds": 1, "cogs": 2, "coupons": 3}
COUPONS_PREFIX = "expense:coupons:"


def report(entries: Iterable[RecordedEntry], query: ReportQuery) -> list[ReportRow]:
    """The report's rows, ordered by period, channel, SKU and currency; groups with nothing are left out."""
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    for entry in entries:
        if query.start is not None and entry.occurred_at < query.start:
            continue
        if query.end is not None and entry.occurred_at >= query.end:
            continue
        for ln in entry.lines:
            kind, _, channel = ln.account.partition(":")
            if ln.account.startswith(COUPONS_PREFIX):
                kind, channel = "coupons", ln.account[len(COUPONS_PREFIX):]
            measure = MEASURES.get(kind)
            if measure is None:
                continue
            key = (
                period_start(entry.occurred_at, query.period),
                channel if "channel" in query.group_by else "",
                ln.sku_id if "sku" in query.group_by else "",
                ln.currency,
            )
            row = sums.setdefault(key, [0, 0, 0, 0])
            signed = ln.credit_minor - ln.debit_minor if measure == 0 else ln.debit_minor - ln.credit_minor
            row[measure] += signed
    return [
        ReportRow(k[0], k[1], k[2], k[3], sums[k][0], sums[k][1], sums[k][2], discounts_minor=sums[k][3])
        for k in sorted(sums)
    ]


def by_product(rows: Iterable[ReportRow], product_of: Mapping[str, str], keep_sku: bool) -> list[ReportRow]:
    """Rows grouped by SKU regrouped by product (`product_of`: SKU -> product; an unknown SKU is its own
    product ""), keeping the SKU when asked. Sums, so nothing depends on the rows' order."""
    sums: dict[tuple[str, str, str, str, str], list[int]] = {}
    for r in rows:
        key = (r.period, r.channel, product_of.get(r.sku_id, ""), r.sku_id if keep_sku else "", r.currency)
        t = sums.setdefault(key, [0, 0, 0, 0])
        t[0] += r.sales_minor
        t[1] += r.refunds_minor
        t[2] += r.cost_minor
        t[3] += r.discounts_minor
    out: list[ReportRow] = []
    for key in sorted(sums):
        period, channel, product, sku, currency = key
        sales, refunds, cost, discounts = sums[key]
        out.append(ReportRow(period, channel, sku, currency, sales, refunds, cost, product_id=product,
                             discounts_minor=discounts))
    return out
