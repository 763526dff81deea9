"""EntriesPosted carries what its entries add to the balances (`totals`); the balances projection adds
those, and sums the lines of events recorded before they existed. Both ways give the domain's fold."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi_ledger.adapters.proto import entries_posted_events, entries_posted_from_proto, line_totals
from quanyi_ledger.application.posting import HeardFact
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import Money
from quanyi_ledger.domain.ledger import Chain, EntriesPosted, Post, balance_changes, decide, evolve

from ..strategies import heard_batches


def posted(batches: list[list[HeardFact]]) -> list[EntriesPosted]:
    """The events posting `batches` records, linked in memory."""
    chain, out = Chain(), []
    for batch in batches:
        entries = posting.entries_for([(h.fact, h.source) for h in batch], {}, chain.posted)
        event = decide(chain, [Post(e, h.correlation_id) for h, e in zip(batch, entries, strict=True) if e is not None])
        if event is not None:
            chain = evolve(chain, event)
            out.append(event)
    return out


def without_totals(message: ledger_events.EntriesPosted) -> ledger_events.EntriesPosted:
    """The message as recorded before EntriesPosted had totals."""
    old = ledger_events.EntriesPosted()
    old.CopyFrom(message)
    old.ClearField("totals")
    return old


@settings(max_examples=200, deadline=None)
@given(heard_batches())
def test_the_totals_are_the_sums_of_the_lines_and_both_project_the_same(batches: list[list[HeardFact]]) -> None:
    events = posted(batches)
    messages = [m.payload for e in events for m in entries_posted_events(e, chunk=3)]
    expected = balance_changes(events)
    assert line_totals(messages) == expected
    assert line_totals([without_totals(m) for m in messages]) == expected  # type: ignore[arg-type]
    for message in messages:
        assert isinstance(message, ledger_events.EntriesPosted)
        keys = [(c.account, c.currency) for c in message.totals]
        assert keys == sorted(keys) and len(keys) == len(set(keys))
        assert all(c.debit_minor or c.credit_minor for c in message.totals)


def test_an_event_of_either_kind_mixed_in_one_batch_is_added_once() -> None:
    source = posting.Source("00000000-0000-7000-8000-000000000001", datetime(2026, 1, 1, tzinfo=UTC))
    fact = posting.OrderPaid("o-1", "web", Money(990, "CNY"))
    events = posted([[HeardFact(fact, source, "o-1")]])
    (message,) = [m.payload for m in entries_posted_events(events[0])]
    assert isinstance(message, ledger_events.EntriesPosted)
    both = line_totals([message, without_totals(message)])
    assert both == {("deposits:buyers", "CNY"): (1980, 0), ("revenue:web", "CNY"): (0, 1980)}


def test_an_entry_dated_at_the_epoch_keeps_its_time_on_the_wire() -> None:
    """Its Timestamp's fields are all zeros: assigning them must still mark occurred_at present, or the
    reader would take it for an entry without a time."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    source = posting.Source("00000000-0000-7000-8000-000000000002", epoch)
    events = posted([[HeardFact(posting.OrderPaid("o-epoch", "web", Money(100, "CNY")), source, "o-epoch")]])
    (message,) = [m.payload for m in entries_posted_events(events[0])]
    assert isinstance(message, ledger_events.EntriesPosted)
    wire = ledger_events.EntriesPosted.FromString(message.SerializeToString())
    assert wire.entries[0].HasField("occurred_at")
    assert entries_posted_from_proto(wire).entries[0].rec.occurred_at == epoch
