from datetime import UTC, datetime, timedelta

import pytest
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.chain import GENESIS_HASH, verify
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.ledger import (
    AccountBalance,
    Chain,
    EntriesPosted,
    Post,
    balance_changes,
    balances_of,
    decide,
    evolve,
    fold,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def paid(n: int, amount: int = 100, channel: str = "web") -> Post:
    src = posting.Source(f"0195a1b2-0000-7000-8000-{n:012d}", T0 + timedelta(seconds=n))
    entry = posting.order_paid(posting.OrderPaid(f"o{n}", channel, Money(amount, "CNY")), src)
    assert entry is not None
    return Post(entry, f"o{n}")


def test_the_first_entries_start_the_chain_at_seq_1_from_the_genesis_hash() -> None:
    event = decide(Chain(), [paid(1), paid(2)])
    assert event is not None
    assert [e.seq for e in event.entries] == [1, 2]
    assert event.entries[0].rec.prev_hash == GENESIS_HASH
    assert event.entries[1].rec.prev_hash == event.entries[0].rec.hash
    assert verify(e.rec for e in event.entries).ok


def test_entries_follow_the_end_of_the_chain() -> None:
    first = decide(Chain(), [paid(1)])
    assert first is not None
    chain = evolve(Chain(), first)
    second = decide(chain, [paid(2)])
    assert second is not None
    assert (second.first_seq, second.entries[0].rec.prev_hash) == (2, first.head.hash)
    assert verify([first.head, second.head]).ok


def test_a_fact_posted_already_or_twice_in_the_batch_posts_once() -> None:
    chain = Chain(seq=4, hash="f" * 64, posted=frozenset({paid(1).entry.source_event_id}))
    event = decide(chain, [paid(1), paid(2), paid(2), paid(3)])
    assert event is not None
    assert [e.rec.source_event_id for e in event.entries] == [
        paid(2).entry.source_event_id, paid(3).entry.source_event_id
    ]
    assert [e.seq for e in event.entries] == [5, 6]


def test_nothing_new_decides_nothing() -> None:
    assert decide(Chain(), []) is None
    assert decide(Chain(posted=frozenset({paid(1).entry.source_event_id})), [paid(1)]) is None


def test_an_event_of_no_entries_cannot_exist() -> None:
    with pytest.raises(ValueError):
        EntriesPosted(())


def test_evolve_moves_the_head_and_remembers_the_posted_sources() -> None:
    event = decide(Chain(), [paid(1), paid(2)])
    assert event is not None
    chain = fold([event])
    assert (chain.seq, chain.hash) == (2, event.head.hash)
    assert chain.posted == {paid(1).entry.source_event_id, paid(2).entry.source_event_id}


def test_balances_are_the_sums_of_the_lines_per_account_and_currency() -> None:
    first = decide(Chain(), [paid(1, 300), paid(2, 200, "jd")])
    assert first is not None
    second = decide(fold([first]), [paid(3, 50)])
    assert second is not None
    assert balances_of([first, second]) == [
        AccountBalance("deposits:buyers", "CNY", 550, 0),
        AccountBalance("revenue:jd", "CNY", 0, 200),
        AccountBalance("revenue:web", "CNY", 0, 350),
    ]


def test_balance_changes_do_not_depend_on_how_events_are_split() -> None:
    whole = decide(Chain(), [paid(n, 10 * n) for n in range(1, 7)])
    assert whole is not None
    halves = [EntriesPosted(whole.entries[:3]), EntriesPosted(whole.entries[3:])]
    assert balance_changes([whole]) == balance_changes(halves) == balance_changes(reversed(halves))
