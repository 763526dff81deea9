"""Protobuf <-> domain: the facts the ledger hears, and its EntriesPosted as the contract publishes it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.envelope import Envelope, NewEvent, datetime_of, set_timestamp

from quanyi_ledger.domain import posting, reconciliation
from quanyi_ledger.domain.chain import RecordedEntry
from quanyi_ledger.domain.journal import JournalLine, Money
from quanyi_ledger.domain.ledger import EntriesPosted, PostedEntry, balance_changes

ENTRIES_POSTED = ledger_events.EntriesPosted.DESCRIPTOR.full_name
# The journal is one aggregate (one chain, one partition); an event's version is its last entry's seq.
JOURNAL_AGGREGATE = "Journal"
JOURNAL_ID = "journal"
# Entries per EntriesPosted: a batch with more is recorded as several events, so that no message comes
# near the broker's size limit (an entry is about 400 bytes).
MAX_ENTRIES_PER_EVENT = 500

# -- the facts the ledger posts --------------------------------------------------------------------------


def _money(m: money_pb2.Money) -> Money:
    return Money(int(m.minor_units), m.currency)


def money_to_proto(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.minor, currency=m.currency)


def _sale_lines(lines: Sequence[orders_events.OrderLine]) -> tuple[posting.SaleLine, ...]:
    return tuple(
        posting.SaleLine(
            ln.sku_id, Money(int(ln.unit_price.minor_units) * ln.quantity, ln.unit_price.currency)
        )
        for ln in lines
    )


def _payment_captured(p: orders_events.PaymentCaptured) -> tuple[posting.Fact, str]:
    amount = p.amount
    fact = posting.PaymentCaptured(
        p.order_id, p.provider, p.provider_txn_id, Money(amount.minor_units, amount.currency),
        refused=bool(p.refused_reason),
    )
    return fact, fact.order_id


def _order_paid(p: orders_events.OrderPaid) -> tuple[posting.Fact, str]:
    # The channel is the one the order arrived on, as orders recorded it from the gateway's route.
    total = p.total
    fact = posting.OrderPaid(
        p.order_id, p.channel, Money(total.minor_units, total.currency), _sale_lines(p.lines),
        _money(p.discount) if p.HasField("discount") else None,
    )
    return fact, fact.order_id


def _order_refunded(p: orders_events.OrderRefunded) -> tuple[posting.Fact, str]:
    return posting.OrderRefunded(p.order_id, p.channel, _money(p.amount), p.was_released), p.order_id


def _refund_succeeded(p: orders_events.RefundSucceeded) -> tuple[posting.Fact, str]:
    lines = tuple(posting.SaleLine(ln.sku_id, _money(ln.amount)) for ln in p.lines)
    return posting.RefundSucceeded(p.order_id, p.refund_id, p.provider, _money(p.amount), lines), p.order_id


def _key_delivered(p: fulfillment_events.KeyDelivered) -> tuple[posting.Fact, str]:
    keys = p.keys
    costs = [Money(c.minor_units, c.currency) for c in (k.unit_cost for k in keys)]
    fact = posting.KeyDelivered(p.order_id, p.sales_channel, costs, [k.sku_id for k in keys])
    return fact, fact.order_id


_Reader = Callable[[Any], tuple[posting.Fact, str]]


def _points(fact: Callable[[str, int, int, int, Money], posting.Fact]) -> _Reader:
    """The reader of PointsCredited or PointsDebited, which say the same of the points."""

    def read(
        p: fulfillment_events.PointsCredited | fulfillment_events.PointsDebited,
    ) -> tuple[posting.Fact, str]:
        return fact(p.order_id, p.line_no, p.unit_no, int(p.points), _money(p.value)), p.order_id

    return read


def _membership(fact: Callable[[str, int, int, str, str, Money, str], posting.Fact]) -> _Reader:
    """The reader of MembershipGranted or MembershipShortened, which say the same of the membership."""

    def read(
        p: fulfillment_events.MembershipGranted | fulfillment_events.MembershipShortened,
    ) -> tuple[posting.Fact, str]:
        cost = _money(p.cost)
        made = fact(p.order_id, p.line_no, p.unit_no, p.plan, p.sales_channel, cost, p.bundle_sku_id)
        return made, p.order_id

    return read


def _keys_imported(p: inventory_events.KeysImported) -> tuple[posting.Fact, str]:
    fact = posting.KeysImported(p.batch_id, p.sku_id, int(p.imported), _money(p.unit_cost), p.actor)
    return fact, p.batch_id


# The reader of each posted payload type, looked up by the payload's class (one dict lookup per event).
_FACT_READERS: dict[type[Message], _Reader] = {
    orders_events.PaymentCaptured: _payment_captured,
    orders_events.OrderPaid: _order_paid,
    orders_events.OrderRefunded: _order_refunded,
    orders_events.RefundSucceeded: _refund_succeeded,
    fulfillment_events.KeyDelivered: _key_delivered,
    fulfillment_events.PointsCredited: _points(posting.PointsCredited),
    fulfillment_events.MembershipGranted: _membership(posting.MembershipGranted),
    fulfillment_events.PointsDebited: _points(posting.PointsDebited),
    fulfillment_events.MembershipShortened: _membership(posting.MembershipShortened),
    inventory_events.KeysImported: _keys_imported,
}
FACT_TYPES = frozenset(c.DESCRIPTOR.full_name for c in _FACT_READERS)


def fact_from_proto(payload: Message) -> tuple[posting.Fact, str]:
    """The domain fact of a payload of one of FACT_TYPES, and the order (or import batch) it concerns."""
    read = _FACT_READERS.get(type(payload))
    if read is None:
        raise TypeError(f"the ledger posts no {type(payload).__name__}")
    return read(payload)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def source_of(envelope: Envelope) -> posting.Source:
    """The event a fact came from. Its id in the canonical (lower-case) spelling, as Postgres returns it,
    so that the entry's hash recomputes the same from the journal."""
    event_id = envelope.event_id
    if not _CANONICAL_UUID.fullmatch(event_id):
        event_id = str(uuid.UUID(event_id))
    return posting.Source(event_id, datetime_of(envelope.occurred_at))


# -- EntriesPosted ---------------------------------------------------------------------------------------


def entries_posted_to_proto(event: EntriesPosted) -> ledger_events.EntriesPosted:
    # Built in place (add): a message passed to a constructor is copied into its parent, and this runs for
    # every entry posted.
    msg = ledger_events.EntriesPosted()
    add_entry = msg.entries.add
    for (seq, kind, source, at, lines, prev_hash, hash_hex, reference), memo, correlation in event.entries:
        out = add_entry(
            seq=seq,
            source_event_id=source,
            kind=kind,
            prev_hash=prev_hash,
            hash=hash_hex,
            memo=memo,
            correlation_id=correlation,
            reference=reference,
        )
        set_timestamp(out.occurred_at, at)  # assigning its fields sets it, even to the epoch's zeros
        add_line = out.lines.add
        for account, debit, credit, currency, sku in lines:
            add_line(account=account, debit_minor=debit, credit_minor=credit, currency=currency, sku_id=sku)
    # The balances' change, summed from the domain's lines (a quarter of the time summing the message takes).
    add_total = msg.totals.add
    for (account, currency), (debit, credit) in sorted(balance_changes([event]).items()):
        add_total(account=account, currency=currency, debit_minor=debit, credit_minor=credit)
    return msg


def entries_posted_from_proto(payload: ledger_events.EntriesPosted) -> EntriesPosted:
    return EntriesPosted(
        tuple(
            PostedEntry(
                RecordedEntry(
                    seq=e.seq,
                    kind=e.kind,
                    source_event_id=e.source_event_id,
                    occurred_at=datetime_of(e.occurred_at),
                    lines=tuple(
                        JournalLine(ln.account, ln.debit_minor, ln.credit_minor, ln.currency, ln.sku_id)
                        for ln in e.lines
                    ),
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                    reference=e.reference,
                ),
                memo=e.memo,
                correlation_id=e.correlation_id,
            )
            for e in payload.entries
        )
    )


def entries_posted_events(event: EntriesPosted, chunk: int = MAX_ENTRIES_PER_EVENT) -> list[NewEvent]:
    """The events to append for `event`: one EntriesPosted per `chunk` entries (one for a usual batch).

    Each is the journal aggregate at the version of its last entry's seq, so two posters can never both
    record the same stretch of the chain. A batch spans several orders: the envelope's correlation and
    causation are its first entry's, and every entry names its own in the payload.
    """
    out: list[NewEvent] = []
    for i in range(0, len(event.entries), chunk):
        part = EntriesPosted(event.entries[i : i + chunk])
        first = part.entries[0]
        out.append(
            NewEvent(
                aggregate_type=JOURNAL_AGGREGATE,
                aggregate_id=JOURNAL_ID,
                aggregate_version=part.last_seq,
                payload=entries_posted_to_proto(part),
                correlation_id=first.correlation_id,
                causation_id=first.rec.source_event_id,
            )
        )
    return out


def line_totals(payloads: Sequence[Message]) -> dict[tuple[str, str], tuple[int, int]]:
    """ledger.balance_changes of the EntriesPosted among `payloads`: each event's `totals`, or, in an event
    recorded before it had them, the sums of its lines (read from the message directly: building the
    domain's entries first cost most of the balances projection's CPU)."""
    totals: dict[tuple[str, str], list[int]] = {}

    def add(key: tuple[str, str], debit: int, credit: int) -> None:
        t = totals.get(key)
        if t is None:
            totals[key] = [debit, credit]
        else:
            t[0] += debit
            t[1] += credit

    for p in payloads:
        if not isinstance(p, ledger_events.EntriesPosted):
            continue
        if p.totals:
            for c in p.totals:
                add((c.account, c.currency), c.debit_minor, c.credit_minor)
            continue
        for e in p.entries:
            for ln in e.lines:
                add((ln.account, ln.currency), ln.debit_minor, ln.credit_minor)
    return {k: (v[0], v[1]) for k, v in totals.items()}


def entries_posted_of(payloads: Sequence[Message]) -> list[EntriesPosted]:
    """The domain events among `payloads` (others are skipped)."""
    return [
        entries_posted_from_proto(p) for p in payloads if isinstance(p, ledger_events.EntriesPosted)
    ]


# -- reconciliation, signed heads, exports ---------------------------------------------------------------

STATEMENT_RECONCILED = ledger_events.StatementReconciled.DESCRIPTOR.full_name
RECONCILIATION_MISMATCH = ledger_events.ReconciliationMismatch.DESCRIPTOR.full_name
MISMATCH_RESOLVED = ledger_events.MismatchResolved.DESCRIPTOR.full_name
CHAIN_HEAD_SIGNED = ledger_events.ChainHeadSigned.DESCRIPTOR.full_name
REPORT_EXPORTED = ledger_events.ReportExported.DESCRIPTOR.full_name
STATEMENT_AGGREGATE = "Statement"
MISMATCH_AGGREGATE = "Mismatch"
CHAIN_HEAD_AGGREGATE = "ChainHead"
EXPORT_AGGREGATE = "Export"


def timestamp_of(t: datetime) -> Timestamp:
    """Timestamp.FromDatetime(t), without its per-call conversions (the platform's set_timestamp)."""
    ts = Timestamp()
    set_timestamp(ts, t)
    return ts


def mismatch_to_proto(
    m: reconciliation.Mismatch, provider: str, run_id: str
) -> ledger_events.ReconciliationMismatch:
    return ledger_events.ReconciliationMismatch(
        provider=provider,
        provider_txn_id=m.key,
        detail=m.detail,
        statement_id=run_id,
        mismatch_id=m.mismatch_id,
        kind=m.kind.value,  # type: ignore[arg-type]
        order_id=m.order_id,
        ledger_amount=money_to_proto(Money(m.ledger_minor, m.currency)),
        statement_amount=money_to_proto(Money(m.statement_minor, m.currency)),
        txn_kind=m.txn_kind.value,
    )


def reconciliation_events(
    result: reconciliation.Reconciliation,
    statement: reconciliation.Statement,
    provider: str,
    file_sha256: str,
    actor: str,
    event_id: str,
) -> tuple[NewEvent, list[NewEvent]]:
    """StatementReconciled (with `event_id`) and one ReconciliationMismatch per mismatch."""
    currency = result.currency
    run = NewEvent(
        aggregate_type=STATEMENT_AGGREGATE,
        aggregate_id=result.statement_id,
        aggregate_version=1,
        payload=ledger_events.StatementReconciled(
            statement_id=result.statement_id,
            provider=provider,
            bill_date=statement.bill_date.isoformat(),
            file_sha256=file_sha256,
            matched=result.matched,
            missing_in_ledger=result.count(reconciliation.MismatchKind.MISSING_IN_LEDGER),
            missing_in_statement=result.count(reconciliation.MismatchKind.MISSING_IN_STATEMENT),
            amount_mismatches=result.count(reconciliation.MismatchKind.AMOUNT),
            fee_total=money_to_proto(Money(result.fee_minor, currency)),
            payment_total=money_to_proto(Money(result.payments_minor, currency)),
            refund_total=money_to_proto(Money(result.refunds_minor, currency)),
            actor=actor,
        ),
        correlation_id=result.statement_id,
        event_id=event_id,
    )
    found = [
        NewEvent(
            aggregate_type=MISMATCH_AGGREGATE,
            aggregate_id=m.mismatch_id,
            aggregate_version=1,
            payload=mismatch_to_proto(m, provider, result.statement_id),
            correlation_id=m.order_id or result.statement_id,
            causation_id=event_id,
        )
        for m in result.mismatches
    ]
    return run, found


def mismatch_resolved_event(
    mismatch_id: str, provider: str, actor: str, note: str, adjustment: Money, order_id: str, event_id: str
) -> NewEvent:
    return NewEvent(
        aggregate_type=MISMATCH_AGGREGATE,
        aggregate_id=mismatch_id,
        aggregate_version=2,
        payload=ledger_events.MismatchResolved(
            mismatch_id=mismatch_id,
            actor=actor,
            note=note,
            adjustment=money_to_proto(adjustment),
            provider=provider,
        ),
        correlation_id=order_id or mismatch_id,
        event_id=event_id,
    )


def chain_head_signed_event(
    seq: int, hash_hex: str, signed_at: datetime, public_key: str, signature: str, actor: str, head_id: str
) -> NewEvent:
    return NewEvent(
        aggregate_type=CHAIN_HEAD_AGGREGATE,
        aggregate_id=head_id,
        aggregate_version=1,
        payload=ledger_events.ChainHeadSigned(
            seq=seq,
            hash=hash_hex,
            signed_at=timestamp_of(signed_at),
            public_key=public_key,
            signature=signature,
            actor=actor,
        ),
        occurred_at=signed_at,
    )


def report_exported_event(
    actor: str, report: str, fmt: str, rows: int, head_seq: int, export_id: str
) -> NewEvent:
    return NewEvent(
        aggregate_type=EXPORT_AGGREGATE,
        aggregate_id=export_id,
        aggregate_version=1,
        payload=ledger_events.ReportExported(
            actor=actor, report=report, format=fmt, rows=rows, head_seq=head_seq
        ),
    )
