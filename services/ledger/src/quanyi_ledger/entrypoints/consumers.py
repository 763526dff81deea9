"""Ledger's consumer: translates a batch of financial facts into one posting call, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quanyi_platform.consumer import BatchHandler, ReceivedEvent

from quanyi_ledger.adapters.proto import FACT_TYPES, fact_from_proto, source_of
from quanyi_ledger.application.ports import LedgerUnitOfWork
from quanyi_ledger.application.posting import HeardFact, post_facts
from quanyi_ledger.domain.posting import NO_TERMS, ChannelTerms

# Builds the ledger's unit of work on a connection already in a transaction (the consumer's).
BoundUnitOfWork = Callable[[Any], LedgerUnitOfWork]


def heard(ev: ReceivedEvent) -> HeardFact:
    fact, order_id = fact_from_proto(ev.payload)
    # Entries are correlated with the order (or import batch) they are about: refunds find their sale by it.
    return HeardFact(fact, source_of(ev.envelope), order_id or ev.correlation_id)


def batch_handler(unit_of_work: BoundUnitOfWork, terms: ChannelTerms = NO_TERMS) -> BatchHandler:
    """The InboxConsumer's handler: the FACT_TYPES (payments, sales, refunds, deliveries, imports), a whole
    batch posted in one unit of work within the consumer's inbox transaction, by the channels' `terms`."""

    async def apply(conn: Any, events: list[ReceivedEvent]) -> None:
        await post_facts(unit_of_work(conn), [heard(ev) for ev in events], terms)

    return BatchHandler(FACT_TYPES, apply)
