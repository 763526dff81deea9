"""Posting financial facts to the journal, a batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from quanyi_platform.envelope import NewEvent

from quanyi_ledger.adapters.proto import entries_posted_events
from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.domain import posting
from quanyi_ledger.domain.ledger import Chain, EntriesPosted, Post, decide


class HeardFact(NamedTuple):
    """A financial fact, the event it was heard as, and the order or campaign it concerns (a NamedTuple:
    one is made for every event heard)."""

    fact: posting.Fact
    source: posting.Source
    correlation_id: str = ""
    # The fact's entry made ahead of time (posting.premade, by the same channel terms), or None.
    made: posting.Premade = None


async def post_facts(
    uow: LedgerUnitOfWork, facts: Sequence[HeardFact], terms: posting.ChannelTerms = posting.NO_TERMS
) -> EntriesPosted | None:
    """Post every fact of `facts` that has something to post, in order, in one unit of work, by the posting
    rules and the sales channels' `terms` (commissions).

    One read loads the chain's end (serialising posters) and which facts it has posted; a refund's
    missing details come from the order's earlier entries (one read for the batch's refunds, see
    posting.complete). The posting rules make each fact's entry in memory, the entries are linked in
    memory, and one write appends them to the journal and one append records them as EntriesPosted (the
    balances projection then adds them set-wise). A fact posted before posts nothing again. Raises
    UnbalancedEntry, posting nothing, when a fact cannot make a balanced entry. Returns what was posted,
    or None.
    """
    async with uow:
        # The chain's end first: from here no other poster runs, so the order books read next are current.
        chain = await uow.journal.load([f.source.event_id for f in facts])
        orders = sorted({f.fact.order_id for f in facts if posting.needs_book(f.fact)})
        books = await uow.journal.order_books(orders) if orders else {}
        entries = posting.entries_for(
            [(f.fact, f.source) for f in facts], books, chain.posted, terms, [f.made for f in facts]
        )
        commands = [
            Post(entry, f.correlation_id)
            for f, entry in zip(facts, entries, strict=True)
            if entry is not None
        ]
        event = await post(uow, commands, chain)
        await uow.commit()
    return event


async def post(
    uow: LedgerUnitOfWork, commands: Sequence[Post], chain: Chain | None = None
) -> EntriesPosted | None:
    """Append the entries of `commands` at the end of the chain, in `uow` (which the caller commits).
    `chain`: the chain as this unit of work loaded it already, covering the commands' sources."""
    if not commands:
        return None
    if chain is None:
        chain = await uow.journal.load([c.entry.source_event_id for c in commands])
    event = decide(chain, commands)
    if event is None:
        return None
    # The events are built while the journal writes the entries (the same content, as the contract's
    # EntriesPosted): client and database work side by side.
    events: list[NewEvent] = []
    await uow.journal.append(event, while_writing=lambda: events.extend(entries_posted_events(event)))
    await uow.events.append(events)
    return event
