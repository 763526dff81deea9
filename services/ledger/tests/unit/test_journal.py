from datetime import UTC, datetime

import pytest
from quanyi_ledger.domain.journal import JournalEntry, JournalLine, Money, UnbalancedEntry

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EID = "0195a1b2-0000-7000-8000-000000000001"


def entry(*lines: JournalLine) -> JournalEntry:
    return JournalEntry("sale", EID, AT, "", lines)


def test_an_entry_whose_debits_equal_its_credits_is_accepted() -> None:
    e = entry(
        JournalLine.debit("cash:psp", Money(500, "CNY")),
        JournalLine.credit("deposits:buyers", Money(500, "CNY")),
    )
    assert len(e.lines) == 2


def test_an_entry_whose_debits_differ_from_its_credits_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match="debits 500 ≠ credits 499 in CNY"):
        entry(JournalLine.debit("a", Money(500, "CNY")), JournalLine.credit("b", Money(499, "CNY")))


def test_an_entry_must_balance_in_each_currency_not_only_in_total() -> None:
    with pytest.raises(UnbalancedEntry, match="in CNY"):
        entry(
            JournalLine.debit("a", Money(500, "CNY")),
            JournalLine.credit("b", Money(500, "USD")),
        )


def test_an_entry_of_a_single_line_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match="at least 2"):
        entry(JournalLine("a", 0, 0, "CNY"))


def test_a_negative_amount_is_refused_even_when_the_entry_balances() -> None:
    with pytest.raises(UnbalancedEntry, match="negative"):
        entry(JournalLine("a", -5, 0, "CNY"), JournalLine("b", 0, -5, "CNY"))


def test_a_line_that_is_both_a_debit_and_a_credit_is_refused() -> None:
    with pytest.raises(UnbalancedEntry, match="either a debit or a credit"):
        entry(JournalLine("a", 5, 5, "CNY"), JournalLine("b", 0, 0, "CNY"))


def test_an_entry_needs_a_timezone_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        JournalEntry(
            "sale", EID, datetime(2025, 3, 1), "",
            (JournalLine.debit("a", Money(1, "CNY")), JournalLine.credit("b", Money(1, "CNY"))),
        )
