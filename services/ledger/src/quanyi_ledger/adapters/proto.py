"""Protobuf <-> domain: the facts the ledger hears, and its EntriesPosted as the contract publishes it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as fulfillment_events
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi.ledger.v1 import events_pb2 as ledger_events
from quanyi.orders.v1 import events_pb2 as orders_events
from quanyi_platform.envelope import Envelope, NewEvent

from quanyi_ledger.domain import posting, reconciliation
from quanyi_ledger.domain.chain import RecordedEntry
from quanyi_ledger.domain.journal import JournalLine, Money
from quanyi_ledger.domain.ledger import EntriesPosted, PostedEntry

ENTRIES_POSTED = ledger_events.EntriesPosted.DESCRIPTOR.full_name
# The journal is one aggregate (one chain, one partition); an event's version is its last entry's seq.
JOURNAL_AGGREGATE = "Journal"
JOURNAL_ID = "journal"
# Entries per EntriesPosted: a batch with more is recorded as several events, so that no message comes
# near the broker's size limit (an entry is about 400 bytes).
MAX_ENTRIES_PER_EVENT = 500

# -- the facts the ledger posts --------------------------------------------------------------------------

PAYMENT_CAPTURED = orders_events.PaymentCaptured.DESCRIPTOR.full_name
ORDER_PAID = orders_events.OrderPaid.DESCRIPTOR.full_name
ORDER_REFUNDED = orders_events.OrderRefunded.DESCRIPTOR.full_name
REFUND_SUCCEEDED = orders_events.RefundSucceeded.DESCRIPTOR.full_name
KEY_DELIVERED = fulfillment_events.KeyDelivered.DESCRIPTOR.full_name
KEYS_IMPORTED = inventory_events.KeysImported.DESCRIPTOR.full_name
POINTS_CREDITED = fulfillment_events.PointsCredited.DESCRIPTOR.full_name
MEMBERSHIP_GRANTED = fulfillment_events.MembershipGranted.DESCRIPTOR.full_name
POINTS_DEBITED = fulfillment_events.PointsDebited.DESCRIPTOR.full_name
MEMBERSHIP_SHORTENED = fulfillment_events.MembershipShortened.DESCRIPTOR.full_name
FACT_TYPES = frozenset(
    {PAYMENT_CAPTURED, ORDER_PAID, ORDER_REFUNDED, REFUND_SUCCEEDED, KEY_DELIVERED, KEYS_IMPORTED,
     POINTS_CREDITED, MEMBERSHIP_GRANTED, POINTS_DEBITED, MEMBERSHIP_SHORTENED}
)


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


def fact_from_proto(payload: Message) -> tuple[posting.Fact, str]:
    """The domain fact of a payload of one of FACT_TYPES, and the order it concerns."""
    if isinstance(payload, orders_events.PaymentCaptured):
        return (
            posting.PaymentCaptured(
                payload.order_id,
                payload.provider,
                payload.provider_txn_id,
                _money(payload.amount),
                refused=bool(payload.refused_reason),
            ),
            payload.order_id,
        )
    if isinstance(payload, orders_events.OrderPaid):
        # The channel is the one the order arrived on, as orders recorded it from the gateway's route.
        paid = posting.OrderPaid(
            payload.order_id, payload.channel, _money(payload.total), _sale_lines(payload.lines),
            _money(payload.discount) if payload.HasField("discount") else None,
        )
        return paid, payload.order_id
    if isinstance(payload, orders_events.OrderRefunded):
        fact = posting.OrderRefunded(
            payload.order_id, payload.channel, _money(payload.amount), payload.was_released
        )
        return fact, payload.order_id
    if isinstance(payload, orders_events.RefundSucceeded):
        lines = tuple(posting.SaleLine(ln.sku_id, _money(ln.amount)) for ln in payload.lines)
        succeeded = posting.RefundSucceeded(
            payload.order_id, payload.refund_id, payload.provider, _money(payload.amount), lines
        )
        return succeeded, payload.order_id
    if isinstance(payload, fulfillment_events.KeyDelivered):
        costs = [_money(k.unit_cost) for k in payload.keys]
        skus = [k.sku_id for k in payload.keys]
        return posting.KeyDelivered(payload.order_id, payload.sales_channel, costs, skus), payload.order_id
    if isinstance(payload, fulfillment_events.PointsCredited):
        credited = posting.PointsCredited(
            payload.order_id, payload.line_no, payload.unit_no, int(payload.points), _money(payload.value)
        )
        return credited, payload.order_id
    if isinstance(payload, fulfillment_events.MembershipGranted):
        granted = posting.MembershipGranted(
            payload.order_id, payload.line_no, payload.unit_no, payload.plan, payload.sales_channel,
            _money(payload.cost), payload.bundle_sku_id,
        )
        return granted, payload.order_id
    if isinstance(payload, fulfillment_events.PointsDebited):
        debited = posting.PointsDebited(
            payload.order_id, payload.line_no, payload.unit_no, int(payload.points), _money(payload.value)
        )
        return debited, payload.order_id
    if isinstance(payload, fulfillment_events.MembershipShortened):
        shortened = posting.MembershipShortened(
            payload.order_id, payload.line_no, payload.unit_no, payload.plan, payload.sales_channel,
            _money(payload.cost), payload.bundle_sku_id,
        )
        return shortened, payload.order_id
    if isinstance(payload, inventory_events.KeysImported):
        imported = posting.KeysImported(
            payload.batch_id, payload.sku_id, int(payload.imported), _money(payload.unit_cost), payload.actor
        )
        return imported, payload.batch_id
    raise TypeError(f"the ledger posts no {type(payload).__name__}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def datetime_of(ts: Timestamp) -> datetime:
    """`ts` as an aware UTC datetime: Timestamp.ToDatetime(tzinfo=UTC) (microseconds, nanos truncated),
    without its per-call conversions."""
    return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


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
    for e in event.entries:
        rec = e.rec
        delta = rec.occurred_at - _EPOCH
        out = add_entry(
            seq=rec.seq,
            source_event_id=rec.source_event_id,
            kind=rec.kind,
            prev_hash=rec.prev_hash,
            hash=rec.hash,
            memo=e.memo,
            correlation_id=e.correlation_id,
            reference=rec.reference,
        )
        out.occurred_at.SetInParent()
        out.occurred_at.seconds = delta.days * 86_400 + delta.seconds
        out.occurred_at.nanos = delta.microseconds * 1_000
        add_line = out.lines.add
        for ln in rec.lines:
            add_line(
                account=ln.account,
                debit_minor=ln.debit_minor,
                credit_minor=ln.credit_minor,
                currency=ln.currency,
                sku_id=ln.sku_id,
            )
    return msg


def entries_posted_from_proto(payload: ledger_events.EntriesPosted) -> EntriesPosted:
    return EntriesPosted(
        tuple(
            PostedEntry(
                RecordedEntry(
                    seq=e.seq,
                    kind=e.kind,
                    source_event_id=e.source_event_id,
                    occurred_at=e.occurred_at.ToDatetime(tzinfo=UTC),
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
    """ledger.balance_changes of the EntriesPosted among `payloads`, summed from the messages directly
    (building the domain's entries first cost most of the balances projection's CPU)."""
    totals: dict[tuple[str, str], list[int]] = {}
    for p in payloads:
        if not isinstance(p, ledger_events.EntriesPosted):
            continue
        for e in p.entries:
            for ln in e.lines:
                key = (ln.account, ln.currency)
                t = totals.get(key)
                if t is None:
                    totals[key] = [ln.debit_minor, ln.credit_minor]
                else:
                    t[0] += ln.debit_minor
                    t[1] += ln.credit_minor
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
    """Timestamp.FromDatetime(t) for an aware `t`, without its per-call conversions."""
    delta = t - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000)


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
