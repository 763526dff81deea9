"""Entries made ahead of time (posting.premade, as the consumer makes them for the next batch while Postgres
writes the batch before) post exactly what entries made in the unit of work post: the same journal, hash for
hash, over random sequences of sales, refunds, deliveries and commissions in random batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given, settings
from quanyi_ledger.adapters.memory import InMemoryLedger, InMemoryLedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.journal import Money

from .test_chart_properties import TERMS, Expected, scenario


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_entries_made_ahead_post_the_same_journal(case: tuple[list[list[HeardFact]], Expected]) -> None:
    batches, _ = case
    inline, ahead = InMemoryLedger(), InMemoryLedger()
    made_ahead = 0

    async def run() -> None:
        nonlocal made_ahead
        for batch in batches:
            await post_facts(InMemoryLedgerUnitOfWork(inline), batch, TERMS)
            premade = [f._replace(made=posting.premade(f.fact, f.source, TERMS)) for f in batch]
            made_ahead += sum(f.made is not None for f in premade)
            await post_facts(InMemoryLedgerUnitOfWork(ahead), premade, TERMS)
        # Heard again (a redelivery), entries made ahead post nothing twice.
        for batch in batches:
            premade = [f._replace(made=posting.premade(f.fact, f.source, TERMS)) for f in batch]
            await post_facts(InMemoryLedgerUnitOfWork(ahead), premade, TERMS)

    asyncio.run(run())
    assert [e.rec for e in ahead.journal] == [e.rec for e in inline.journal]
    assert made_ahead > 0


def test_a_fact_that_needs_its_orders_book_is_not_made_ahead() -> None:
    refund = posting.RefundSucceeded("o-1", "r-1", "wechatpay", Money(100, "CNY"), ())
    assert posting.needs_book(refund)
    assert posting.premade(refund, posting.Source("e-1", datetime(2026, 11, 1, tzinfo=UTC)), TERMS) is None
