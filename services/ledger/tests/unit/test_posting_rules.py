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


def test_a_captured_payment_moves_money_into_cash_against_buyer_deposits() -> None:
    e = posting.payment_captured(posting.PaymentCaptured("o1", "psp-sim", "t1", Money(1999, CNY)), SRC)
    assert e is not None and e.kind == "payment" and e.source_event_id == SRC.event_id
    assert net(e) == {"cash:psp": 1999, "deposits:buyers": -1999}


def test_cash_is_one_account_whatever_the_provider_is_called() -> None:
    e = posting.payment_captured(posting.PaymentCaptured("o1", "alipay", "t1", Money(1, CNY)), SRC)
    assert "cash:psp" in net(e)


def test_a_paid_order_turns_the_deposit_into_revenue_of_its_channel() -> None:
    e = posting.order_paid(posting.OrderPaid("o1", "tmall", Money(1999, CNY)), SRC)
    assert e is not None and e.kind == "sale"
    assert net(e) == {"deposits:buyers": 1999, "revenue:tmall": -1999}


def test_a_refund_of_a_released_order_is_booked_against_the_channel_refunds() -> None:
    e = posting.order_refunded(posting.OrderRefunded("o1", "web", Money(700, CNY), was_released=True), SRC)
    assert e is not None and e.kind == "refund"
    assert net(e) == {"refunds:web": 700, "cash:psp": -700}


def test_a_refund_before_release_returns_the_deposit() -> None:
    e = posting.order_refunded(posting.OrderRefunded("o1", "web", Money(700, CNY), was_released=False), SRC)
    assert net(e) == {"deposits:buyers": 700, "cash:psp": -700}


def test_delivered_keys_move_their_summed_cost_from_inventory_to_cogs_of_the_channel() -> None:
    fact = posting.KeyDelivered("o1", "jd", [Money(300, CNY), Money(450, CNY)])
    e = posting.key_delivered(fact, SRC)
    assert e is not None and e.kind == "key_cost"
    assert net(e) == {"cogs:jd": 750, "inventory:keys": -750}


def test_keys_without_cost_post_nothing() -> None:
    assert posting.key_delivered(posting.KeyDelivered("o1", "jd", [Money(0, CNY), Money(0, "")]), SRC) is None


def test_a_zero_amount_posts_nothing() -> None:
    assert posting.order_paid(posting.OrderPaid("o1", "web", Money(0, CNY)), SRC) is None


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(UnbalancedEntry):
        posting.order_paid(posting.OrderPaid("o1", "web", Money(-5, CNY)), SRC)


def test_an_order_without_channel_is_booked_on_the_unknown_channel() -> None:
    assert "revenue:unknown" in net(posting.order_paid(posting.OrderPaid("o1", "", Money(5, CNY)), SRC))


def test_a_sale_and_its_refund_leave_the_channel_net_revenue_at_zero_and_deposits_empty() -> None:
    totals: dict[str, int] = defaultdict(int)
    for e in [
        posting.payment_captured(posting.PaymentCaptured("o1", "psp-sim", "t", Money(900, CNY)), SRC),
        posting.order_paid(posting.OrderPaid("o1", "web", Money(900, CNY)), SRC),
        posting.order_refunded(posting.OrderRefunded("o1", "web", Money(900, CNY), True), SRC),
    ]:
        for account, amount in net(e).items():
            totals[account] += amount
    assert -totals["revenue:web"] - totals["refunds:web"] == 0
    assert totals["deposits:buyers"] == 0 and totals["cash:psp"] == 0
