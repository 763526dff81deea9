"""Ledger's consumer: translates a batch of financial facts into one posting call, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quanyi_platform.consumer import BatchHandler, ReceivedEvent
from quanyi_platform.envelope import Envelope

from quanyi_ledger.adapters.proto import FACT_TYPES, fact_from_proto, source_of
from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain.posting import NO_TERMS, ChannelTerms, premade

# Builds the ledger's unit of work on a connection already in a transaction (the consumer's).
BoundUnitOfWork = Callable[[Any], LedgerUnitOfWork]


def heard_of(envelope: Envelope, payload: Any, terms: ChannelTerms | None = None) -> HeardFact:
    """The fact an event tells, in the domain's terms, and with `terms` its entry made ahead where it
    needs nothing from the journal (posting.premade). Pure: the consumer runs it as it decodes a batch
    (BatchHandler.prepare), outside the transaction, while Postgres writes the batch before."""
    fact, order_id = fact_from_proto(payload)
    source = source_of(envelope)
    made = premade(fact, source, terms) if terms is not None else None
    # Entries are correlated with the order (or import batch) they are about: refunds find their sale by it.
    return HeardFact(fact, source, order_id or str(envelope.correlation_id), made)


def heard(ev: ReceivedEvent) -> HeardFact:
    if isinstance(ev.prepared, HeardFact):
        return ev.prepared
    return heard_of(ev.envelope, ev.payload)


def batch_handler(unit_of_work: BoundUnitOfWork, terms: ChannelTerms = NO_TERMS) -> BatchHandler:
    """The InboxConsumer's handler: the FACT_TYPES (payments, sales, refunds, deliveries, imports), a whole
    batch posted in one unit of work within the consumer's inbox transaction, by the channels' `terms`."""

    async def apply(conn: Any, events: list[ReceivedEvent]) -> None:
        await post_facts(unit_of_work(conn), [heard(ev) for ev in events], terms)

    def prepare(envelope: Envelope, payload: Any) -> HeardFact:
        return heard_of(envelope, payload, terms)

    return BatchHandler(FACT_TYPES, apply, prepare)
