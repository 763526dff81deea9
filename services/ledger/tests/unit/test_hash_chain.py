from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.chain import (
    GENESIS_HASH,
    RecordedEntry,
    canonical,
    canonical_json,
    chain_hash,
    link,
    verify,
)
from quanyi_ledger.domain.journal import JournalEntry, JournalLine, Money

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def journal(n: int) -> list[RecordedEntry]:
    out: list[RecordedEntry] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        src = posting.Source(f"0195a1b2-0000-7000-8000-{i:012d}", T0 + timedelta(seconds=i))
        e = posting.order_paid(posting.OrderPaid(f"o{i}", "web", Money(100 * i, "CNY")), src)
        assert e is not None
        rec = link(e, i, prev)
        out.append(rec)
        prev = rec.hash
    return out


def test_an_untouched_journal_verifies() -> None:
    v = verify(journal(5))
    assert v.ok and v.entries == 5 and v.problems == ()


def test_the_first_entry_links_to_the_genesis_hash() -> None:
    assert journal(1)[0].prev_hash == "0" * 64


def test_a_changed_amount_is_detected_at_its_entry() -> None:
    entries = journal(5)
    lines = (JournalLine("deposits:buyers", 301, 0, "CNY"), JournalLine("revenue:web", 0, 301, "CNY"))
    entries[2] = entries[2]._replace(lines=lines)
    v = verify(entries)
    assert not v.ok
    assert v.problems == ("entry 3 was changed after it was posted (hash differs)",)


def test_a_changed_amount_that_also_unbalances_the_entry_is_reported_both_ways() -> None:
    entries = journal(3)
    lines = (JournalLine("deposits:buyers", 200, 0, "CNY"), JournalLine("revenue:web", 0, 1, "CNY"))
    entries[1] = entries[1]._replace(lines=lines)
    problems = verify(entries).problems
    assert "entry 2 was changed after it was posted (hash differs)" in problems
    assert any(p.startswith("entry 2 does not balance") for p in problems)


def test_a_removed_entry_is_detected() -> None:
    entries = journal(5)
    del entries[2]
    v = verify(entries)
    assert not v.ok and v.entries == 4
    assert "entry 3 is missing" in v.problems
    assert "entry 4 does not link to the entry before it (prev_hash differs)" in v.problems


def test_a_rehashed_forgery_still_breaks_the_link_to_the_next_entry() -> None:
    entries = journal(4)
    forged = entries[1]._replace(kind="refund")
    entries[1] = forged._replace(hash=forged.expected_hash())
    assert verify(entries).problems == ("entry 3 does not link to the entry before it (prev_hash differs)",)


def test_the_hash_does_not_depend_on_line_order_or_time_zone() -> None:
    lines = [JournalLine("a", 5, 0, "CNY"), JournalLine("b", 0, 5, "CNY")]
    shanghai = T0.astimezone(timezone(timedelta(hours=8)))
    h1 = chain_hash(GENESIS_HASH, 1, "sale", "x", T0, lines)
    assert h1 == chain_hash(GENESIS_HASH, 1, "sale", "x", shanghai, list(reversed(lines)))
    assert len(h1) == 64


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=10**12),
    st.text(max_size=12),
    st.text(max_size=40),
    st.datetimes(timezones=st.just(UTC)),
    st.lists(
        st.builds(JournalLine, st.text(max_size=20), st.integers(0, 10**15), st.integers(0, 10**15),
                  st.sampled_from(["CNY", "USD", "é€"]), st.text(max_size=8)),
        max_size=5,
    ),
    st.text(max_size=10),
)
def test_the_fast_canonical_form_is_exactly_the_json_definition(
    seq: int, kind: str, source: str, at: datetime, lines: list[JournalLine], reference: str
) -> None:
    assert canonical(seq, kind, source, at, lines, reference) == canonical_json(seq, kind, source, at, lines, reference)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=10**12),
    st.text(min_size=1, max_size=12),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
    st.lists(st.tuples(st.text(min_size=1, max_size=20), st.integers(1, 10**15), st.text(max_size=8)),
             min_size=1, max_size=4),
    st.text(max_size=10),
)
def test_an_entry_linked_from_its_text_made_ahead_hashes_as_the_chain_defines(
    seq: int, kind: str, at: datetime, sides: list[tuple[str, int, str]], reference: str
) -> None:
    # Balanced lines: each side once as a debit and once as a credit.
    lines = tuple(
        ln
        for account, amount, sku in sides
        for ln in (JournalLine(account, amount, 0, "CNY", sku), JournalLine("x:" + account, 0, amount, "CNY", sku))
    )
    entry = JournalEntry(kind, "0195a1b2-0000-7000-8000-000000000001", at, "memo", lines, reference)
    head, tail = entry.chain_text  # as posting.premade makes it, before the entry has a seq
    assert f"{head}{seq}{tail}" == canonical_json(seq, kind, entry.source_event_id, at, lines, reference)
    rec = link(entry, seq, GENESIS_HASH)
    assert rec.hash == chain_hash(GENESIS_HASH, seq, kind, entry.source_event_id, at, lines, reference)
    assert rec.hash == rec.expected_hash()
