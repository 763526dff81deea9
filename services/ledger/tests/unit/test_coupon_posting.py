"""A sale with a coupon: posted gross (revenue per SKU at the lines' prices), the buyer's payment from their
deposit and the discount as the channel's coupon expense, in one balanced entry; a refund of it gives back
a proportional share of the coupon expense (floor of refunded × discount / paid, cumulative, so refunding
the whole order gives back exactly the discount); one event posts one entry however often it is heard."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import JournalEntry, Money, entry_problems

T0 = datetime(2026, 12, 1, tzinfo=UTC)
CNY = "CNY"
LINES = (posting.SaleLine("sku-a", Money(3000, CNY)), posting.SaleLine("sku-b", Money(1000, CNY)))


def net(entries: list[JournalEntry]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for entry in entries:
        for ln in entry.lines:
            out[ln.account] += ln.debit_minor - ln.credit_minor
    return {k: v for k, v in out.items() if v}


def heard(n: int, fact: posting.Fact) -> HeardFact:
    return HeardFact(fact, posting.Source(f"00000000-0000-7000-8000-{n:012d}", T0 + timedelta(seconds=n)),
                     fact.order_id)


def post(*batches: list[HeardFact]) -> list[JournalEntry]:
    db = InMemoryLedger()

    async def run() -> None:
        for batch in batches:
            await post_facts(InMemoryLedgerUnitOfWork(db), batch)

    asyncio.run(run())
    return [e.rec for e in db.journal]


def test_a_sale_with_a_coupon_posts_gross_revenue_and_the_discount_as_coupon_expense() -> None:
    paid = posting.OrderPaid("o1", "web", Money(3333, CNY), LINES, Money(667, CNY))
    entry = posting.order_paid(paid, posting.Source("e1", T0))
    assert entry is not None and entry_problems(entry.lines) == []
    assert net([entry]) == {"deposits:buyers": 3333, "expense:coupons:web": 667, "revenue:web": -4000}
    assert {(ln.sku_id, ln.credit_minor) for ln in entry.lines if ln.credit_minor} == {
        ("sku-a", 3000), ("sku-b", 1000)}


def test_one_event_heard_twice_posts_one_entry_and_clearing_holds_what_was_paid() -> None:
    facts = [heard(1, posting.PaymentCaptured("o1", "psp-sim", "t1", Money(3333, CNY))),
             heard(2, posting.OrderPaid("o1", "web", Money(3333, CNY), LINES, Money(667, CNY)))]
    entries = post(facts, facts)
    assert len(entries) == 2
    assert net(entries) == {"clearing:psp:psp-sim": 3333, "expense:coupons:web": 667, "revenue:web": -4000}


def test_refunds_of_a_discounted_order_give_back_the_coupon_expense_in_proportion() -> None:
    sale = [heard(1, posting.PaymentCaptured("o1", "psp-sim", "t1", Money(3333, CNY))),
            heard(2, posting.OrderPaid("o1", "web", Money(3333, CNY), LINES, Money(667, CNY)))]
    # A third of what was paid, then the rest: floor(1111 × 667 / 3333) = 222 back, then 445 more.
    part = posting.RefundSucceeded("o1", "r1", "psp-sim", Money(1111, CNY),
                                   (posting.SaleLine("sku-a", Money(1111, CNY)),))
    first = post(sale, [heard(3, part)])
    assert net(first)["expense:coupons:web"] == 667 - 222
    assert net(first)["refunds:web"] == 1111 + 222
    rest = posting.OrderRefunded("o1", "web", Money(2222, CNY), was_released=True)
    both = post(sale, [heard(3, part)], [heard(4, rest), heard(5, posting.RefundSucceeded(
        "o1", "r2", "psp-sim", Money(2222, CNY)))])
    for entry in both:
        assert entry_problems(entry.lines) == []
    totals = net(both)
    assert "expense:coupons:web" not in totals  # the whole discount came back
    assert totals.get("clearing:psp:psp-sim", 0) == 0
    assert -totals["revenue:web"] - totals["refunds:web"] == 0


def test_the_sales_report_shows_a_coupons_discount_per_sku_and_takes_it_from_the_margin() -> None:
    from quanyi_ledger.domain.chain import RecordedEntry
    from quanyi_ledger.domain.reports import ReportQuery, report

    db = InMemoryLedger()

    async def run() -> None:
        await post_facts(InMemoryLedgerUnitOfWork(db), [
            heard(1, posting.PaymentCaptured("o1", "psp-sim", "t1", Money(3333, CNY))),
            heard(2, posting.OrderPaid("o1", "web", Money(3333, CNY), LINES, Money(667, CNY))),
        ])

    asyncio.run(run())
    entries: list[RecordedEntry] = [e.rec for e in db.journal]
    rows = report(entries, ReportQuery(group_by=frozenset({"sku", "channel"})))
    by_sku = {r.sku_id: (r.sales_minor, r.discounts_minor, r.margin_minor) for r in rows}
    # 667 split 3:1 over what the SKUs sold for (largest remainder first).
    assert by_sku == {"sku-a": (3000, 500, 2500), "sku-b": (1000, 167, 833)}
