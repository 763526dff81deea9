from collections import defaultdict
from datetime import UTC, datetime

import pytest
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import JournalEntry, Money, UnbalancedEntry

SRC = posting.Source("0195a1b2-0000-7000-8000-000000000001", datetime(2025, 3, 1, tzinfo=UTC))
CNY = "CNY"


def net(entry: JournalEntry | None) -> dict[str, int]:
    """Debits minus credits per account."""
    assert entry is not None
    out: dict[str, int] = defaultdict(int)
    for ln in entry.lines:
        out[ln.account] += ln.debit_minor - ln.credit_minor
    return dict(out)


def test_a_captured_payment_moves_money_into_the_provider_clearing_against_buyer_deposits() -> None:
    e = posting.payment_captured(posting.PaymentCaptured("o1", "psp-sim", "t1", Money(1999, CNY)), SRC)
    assert e is not None and e.kind == "payment" and e.source_event_id == SRC.event_id
    assert e.reference == "t1"
    assert net(e) == {"clearing:psp:psp-sim": 1999, "deposits:buyers": -1999}


def test_each_provider_has_its_own_clearing_account() -> None:
    e = posting.payment_captured(posting.PaymentCaptured("o1", "alipay", "t1", Money(1, CNY)), SRC)
    assert "clearing:psp:alipay" in net(e)


def test_a_refused_payment_is_owed_back_at_once() -> None:
    fact = posting.PaymentCaptured("o1", "wechatpay", "t1", Money(500, CNY), refused=True)
    assert net(posting.payment_captured(fact, SRC)) == {"clearing:psp:wechatpay": 500, "payables:refunds": -500}


def test_a_paid_order_turns_the_deposit_into_revenue_of_its_channel_per_sku() -> None:
    lines = (posting.SaleLine("sku-a", Money(1000, CNY)), posting.SaleLine("sku-b", Money(999, CNY)))
    e = posting.order_paid(posting.OrderPaid("o1", "tmall", Money(1999, CNY), lines), SRC)
    assert e is not None and e.kind == "sale"
    assert net(e) == {"deposits:buyers": 1999, "revenue:tmall": -1999}
    assert {(ln.sku_id, ln.credit_minor) for ln in e.lines if ln.credit_minor} == {("sku-a", 1000), ("sku-b", 999)}


def test_a_discounted_total_is_spread_over_the_skus_in_proportion_and_sums_exactly() -> None:
    lines = tuple(posting.SaleLine(f"s{i}", Money(100, CNY)) for i in range(3))
    e = posting.order_paid(posting.OrderPaid("o1", "web", Money(200, CNY), lines), SRC)
    assert e is not None
    assert sorted(ln.credit_minor for ln in e.lines if ln.credit_minor) == [66, 67, 67]


def test_a_refund_of_a_released_order_reverses_the_sale_per_sku_into_refunds_owed() -> None:
    book = {"o1": posting.OrderBook("psp-sim", "web", (posting.SaleLine("a", Money(300, CNY)),
                                                          posting.SaleLine("b", Money(100, CNY))))}
    fact = posting.complete(posting.OrderRefunded("o1", "web", Money(400, CNY), was_released=True), book)
    e = posting.entry_for(fact, SRC)
    assert e is not None and e.kind == "refund"
    assert net(e) == {"refunds:web": 400, "payables:refunds": -400}
    assert {(ln.sku_id, ln.debit_minor) for ln in e.lines if ln.debit_minor} == {("a", 300), ("b", 100)}


def test_a_refund_before_release_returns_the_deposit() -> None:
    e = posting.order_refunded(posting.OrderRefunded("o1", "web", Money(700, CNY), was_released=False), SRC)
    assert net(e) == {"deposits:buyers": 700, "payables:refunds": -700}


def test_a_confirmed_refund_pays_what_was_owed_from_the_provider() -> None:
    book = {"o1": posting.OrderBook("psp-sim", "web", (), refunds_owed=700)}
    fact = posting.complete(posting.RefundSucceeded("o1", "r1", "psp-sim", Money(700, CNY)), book)
    e = posting.entry_for(fact, SRC)
    assert e is not None and e.reference == "r1"
    assert net(e) == {"payables:refunds": 700, "clearing:psp:psp-sim": -700}


def test_a_confirmed_partial_refund_nobody_decided_before_reverses_the_sale_itself() -> None:
    lines = (posting.SaleLine("a", Money(250, CNY)),)
    book = {"o1": posting.OrderBook("psp-sim", "jd", (posting.SaleLine("a", Money(1000, CNY)),))}
    fact = posting.complete(posting.RefundSucceeded("o1", "r1", "", Money(250, CNY), lines), book)
    assert net(posting.entry_for(fact, SRC)) == {"refunds:jd": 250, "clearing:psp:psp-sim": -250}


def test_imported_keys_are_posted_at_cost_into_inventory() -> None:
    e = posting.keys_imported(posting.KeysImported("b1", "sku-a", 3, Money(450, CNY), "admin:1"), SRC)
    assert e is not None and e.kind == "key_import" and e.reference == "b1"
    assert net(e) == {"inventory:keys": 1350, "payables:key_suppliers": -1350}
    assert {ln.sku_id for ln in e.lines if ln.debit_minor} == {"sku-a"}


def test_allocation_sums_exactly_and_favours_the_largest_remainders() -> None:
    assert posting.allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert posting.allocate(7, [0, 5, 2]) == [0, 5, 2]
    assert sum(posting.allocate(999, [3, 7, 11, 13])) == 999


def test_delivered_keys_move_their_summed_cost_from_inventory_to_cogs_of_the_channel() -> None:
    fact = posting.KeyDelivered("o1", "jd", [Money(300, CNY), Money(450, CNY)])
    e = posting.key_delivered(fact, SRC)
    assert e is not None and e.kind == "key_cost"
    assert net(e) == {"cogs:jd": 750, "inventory:keys": -750}


def test_delivered_keys_are_costed_per_sku() -> None:
    fact = posting.KeyDelivered("o1", "jd", [Money(300, CNY), Money(450, CNY)], ["a", "b"])
    e = posting.key_delivered(fact, SRC)
    assert e is not None
    assert {(ln.sku_id, ln.debit_minor) for ln in e.lines if ln.debit_minor} == {("a", 300), ("b", 450)}


def test_keys_without_cost_post_nothing() -> None:
    assert posting.key_delivered(posting.KeyDelivered("o1", "jd", [Money(0, CNY), Money(0, "")]), SRC) is None


def test_a_zero_amount_posts_nothing() -> None:
    assert posting.order_paid(posting.OrderPaid("o1", "web", Money(0, CNY)), SRC) is None


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        posting.order_paid(posting.OrderPaid("o1", "web", Money(-5, CNY)), SRC)


def test_an_order_without_channel_is_booked_on_the_unknown_channel() -> None:
    assert "revenue:unknown" in net(posting.order_paid(posting.OrderPaid("o1", "", Money(5, CNY)), SRC))


def test_a_sale_and_its_paid_refund_leave_the_channel_net_revenue_the_deposits_and_the_clearing_at_zero() -> None:
    totals: dict[str, int] = defaultdict(int)
    facts: list[posting.Fact] = [
        posting.PaymentCaptured("o1", "psp-sim", "t", Money(900, CNY)),
        posting.OrderPaid("o1", "web", Money(900, CNY)),
        posting.OrderRefunded("o1", "web", Money(900, CNY), True),
        posting.RefundSucceeded("o1", "r1", "psp-sim", Money(900, CNY)),
    ]
    sources = [posting.Source(f"0195a1b2-0000-7000-8000-00000000000{i}", SRC.occurred_at) for i in range(4)]
    for e in posting.entries_for(list(zip(facts, sources, strict=True)), {}):
        for account, amount in net(e).items():
            totals[account] += amount
    assert -totals["revenue:web"] - totals["refunds:web"] == 0
    assert totals["deposits:buyers"] == totals["clearing:psp:psp-sim"] == totals["payables:refunds"] == 0


def test_a_fact_heard_again_in_a_batch_or_posted_before_counts_nothing_twice() -> None:
    refund = posting.OrderRefunded("o1", "web", Money(300, CNY), was_released=False)
    paid_back = posting.RefundSucceeded("o1", "r1", "psp-sim", Money(300, CNY))
    src2 = posting.Source("0195a1b2-0000-7000-8000-000000000002", SRC.occurred_at)
    entries = posting.entries_for([(refund, SRC), (refund, SRC), (paid_back, src2)], {})
    assert entries[1] is None
    assert net(entries[2]) == {"payables:refunds": 300, "clearing:psp:psp-sim": -300}
    # Posted before: its effect is in the book already, and it is not noted again.
    book = {"o1": posting.OrderBook("psp-sim", "", (), refunds_owed=300)}
    again = posting.entries_for([(refund, SRC), (paid_back, src2)], book, frozenset({SRC.event_id}))
    assert again[0] is None and net(again[1]) == {"payables:refunds": 300, "clearing:psp:psp-sim": -300}


def test_the_last_units_refunded_after_partial_refunds_reverse_exactly_the_skus_left() -> None:
    sold = (posting.SaleLine("a", Money(600, CNY)), posting.SaleLine("b", Money(400, CNY)))
    facts: list[posting.Fact] = [
        posting.PaymentCaptured("o1", "psp-sim", "t", Money(1000, CNY)),
        posting.OrderPaid("o1", "web", Money(1000, CNY), sold),
        # An operator refunds line a first (no OrderRefunded: the order keeps units) ...
        posting.RefundSucceeded("o1", "r1", "psp-sim", Money(600, CNY), (sold[0],)),
        # ... then the last units: the order's refund says only its amount.
        posting.OrderRefunded("o1", "web", Money(400, CNY), was_released=True),
        posting.RefundSucceeded("o1", "r2", "psp-sim", Money(400, CNY), (sold[1],)),
    ]
    sources = [posting.Source(f"0195a1b2-0000-7000-8000-00000000010{i}", SRC.occurred_at) for i in range(5)]
    entries = posting.entries_for(list(zip(facts, sources, strict=True)), {})
    refunded: dict[str, int] = defaultdict(int)
    for e in entries:
        assert e is not None
        for ln in e.lines:
            if ln.account == "refunds:web":
                refunded[ln.sku_id] += ln.debit_minor
    assert dict(refunded) == {"a": 600, "b": 400}
    assert net(entries[4]) == {"payables:refunds": 400, "clearing:psp:psp-sim": -400}
    # The same from the journal's entries (a later batch): the book knows what was refunded.
    book = posting.book_of(e for e in entries[:3] if e is not None)
    assert book.unrefunded() == (sold[1],)


def test_a_refunds_points_debit_and_shortened_membership_reverse_their_credit_and_cost_exactly() -> None:
    value, cost = Money(250, "CNY"), Money(900, "CNY")
    credit = posting.entry_for(posting.PointsCredited("o1", 1, 2, 500, value), SRC)
    debit = posting.entry_for(posting.PointsDebited("o1", 1, 2, 500, value), SRC)
    granted = posting.entry_for(posting.MembershipGranted("o1", 1, 3, "vip", "web", cost, "box"), SRC)
    cut = posting.entry_for(posting.MembershipShortened("o1", 1, 3, "vip", "web", cost, "box"), SRC)
    assert credit is not None and debit is not None and granted is not None and cut is not None
    assert (debit.kind, cut.kind) == ("points_debited", "membership_cost_reversed")
    net: dict[str, int] = defaultdict(int)
    for entry in (credit, debit, granted, cut):
        for ln in entry.lines:
            net[ln.account] += ln.debit_minor - ln.credit_minor
    assert dict(net) == {"expense:points": 0, "liability:points": 0, "cogs:web": 0, "payables:memberships": 0}
    # Worth nothing or costing nothing: nothing to post, as for the credit and the grant.
    assert posting.entry_for(posting.PointsDebited("o1", 1, 4, 10, Money(0, "CNY")), SRC) is None
    free = posting.MembershipShortened("o1", 1, 5, "vip", "web", Money(0, ""), "box")
    assert posting.entry_for(free, SRC) is None
