"""`orders`, `payment_notices` and `payments`: the orders' current state and the payment record, written
by one projection in ONE statement per batch.

- `orders` holds each order's state, the fold of its events by the domain's `evolve`, with `created_at`
  and `updated_at` the times of its first and latest events. An order placed in the batch is folded (the
  domain's `fold`) and inserted. An order placed before gets one UPDATE row per batch that carries its
  events in the batch folded by the domain's `advance`, tabulated: for each status (and risk decision)
  the row may hold, the one the events lead to. So the domain stays the only statement of the order's
  transitions; this module has none of its own.
- `payment_notices` holds one row per accepted notice (PaymentNoticeAccepted), `payments` one per
  captured provider transaction (PaymentCaptured, refused ones with their reason); both are insert-only.
- `due_events` holds the order's scheduled timeout: its expiry ('order.expire', at pay_by) from
  OrderPlaced until a payment is captured or the order ends; and each open refund's next look
  ('refund.send') from RefundRequested, moved by RefundSent, gone at RefundSucceeded. A batch's events
  of one row are folded first (they are one order's, in order), so a row is upserted or deleted once.

The three tables are written by one data-modifying statement (CTEs), because the payment notice path
would otherwise pay one statement per table: SELECT ... FOR UPDATE, the event INSERT and this are all it
costs (its commit is the pipeline's Sync, see adapters.postgres). Every row is one aggregate's (an
order, a notice, a transaction), so concurrent appends never meet in a row and live equals replay in any
batching.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_orders.adapters.proto_mapping import (
    NOTICE_ACCEPTED,
    ORDER_EVENT_TYPES,
    event_from_proto,
    notice_from_proto,
)
from quanyi_orders.domain.events import (
    Event,
    OrderCancelled,
    OrderExpired,
    OrderFulfilled,
    OrderHeld,
    OrderPaid,
    OrderPlaced,
    OrderQueued,
    OrderRefunded,
    PaymentCaptured,
    RefundKeysCleared,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.order import Order, Phase, RiskDecision, Status, advance, fold

_INSERT_ORDERS = (
    "INSERT INTO orders (order_id, buyer_id, channel, status, risk_decision, lines,"
    " total_minor, currency, captured_txn_id, version, idempotency_key, created_at, updated_at, pay_by,"
    " captured_provider)"
    " SELECT u.order_id, u.buyer_id, u.channel, u.status, u.risk_decision, u.lines::jsonb,"
    " u.total_minor, u.currency, u.captured_txn_id, u.version, NULLIF(u.idempotency_key, ''),"
    " u.created_at, u.updated_at, u.pay_by, u.captured_provider"
    " FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::bigint[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::timestamptz[], %b::timestamptz[],"
    " %b::timestamptz[], %b::text[])"
    " AS u(order_id, buyer_id, channel, status, risk_decision, lines, total_minor, currency,"
    " captured_txn_id, version, idempotency_key, created_at, updated_at, pay_by, captured_provider)"
)
# `status_after` and `risk_after` map a value the row may hold to the one the batch's events lead to
# (only values that change are listed); a transaction id, once captured, is only ever replaced.
_UPDATE_ORDERS = (
    "UPDATE orders AS o SET"
    " status = coalesce(u.status_after::jsonb ->> o.status, o.status),"
    " risk_decision = coalesce(u.risk_after::jsonb ->> o.risk_decision, o.risk_decision),"
    " captured_txn_id = coalesce(u.captured_txn_id, o.captured_txn_id),"
    " captured_provider = coalesce(u.captured_provider, o.captured_provider),"
    " version = u.version, updated_at = u.updated_at"
    " FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::timestamptz[],"
    " %b::text[])"
    " AS u(order_id, status_after, risk_after, captured_txn_id, version, updated_at, captured_provider)"
    " WHERE o.order_id = u.order_id"
)
_INSERT_NOTICES = (
    "INSERT INTO payment_notices (provider, nonce, order_id, txn_id, received_at)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])"
)
_INSERT_PAYMENTS = (
    "INSERT INTO payments (provider, txn_id, order_id, amount_minor, currency, captured_at, refused_reason)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::timestamptz[],"
    " %b::text[])"
)
_UPSERT_DUE = (
    "INSERT INTO due_events (kind, aggregate_id, due_at)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[])"
    " ON CONFLICT (kind, aggregate_id) DO UPDATE SET due_at = excluded.due_at"
)
_DELETE_DUE = (
    "DELETE FROM due_events d USING unnest(%b::text[], %b::text[]) AS u(kind, aggregate_id)"
    " WHERE d.kind = u.kind AND d.aggregate_id = u.aggregate_id"
)
EXPIRE = "order.expire"
REFUND = "refund.send"
DELIVER = "order.deliver"
#: A released order not delivered this long after OrderPaid goes to the exception queue (a constant: the
#: projection must give the same rows on replay whatever the settings).
DELIVERY_DEADLINE = timedelta(minutes=10)
# Events after which an order no longer waits for its payment deadline.
_ENDS_WAIT = (OrderPaid, OrderCancelled, OrderExpired, OrderRefunded, OrderFulfilled)
# Events after which a paid order no longer waits for its delivery deadline.
_ENDS_DELIVERY = (OrderFulfilled, OrderRefunded, OrderQueued)

DueChange = tuple[tuple[str, str], datetime | None]


def names_keys(refund: RefundRequested) -> bool:
    """Whether inventory must take keys back before the refund is sent: units whose keys were released,
    voided or redeemed (an operator's refund; a shortage's or a refused payment's names none)."""
    return any(ln.released or ln.voided or ln.redeemed for ln in refund.lines)


def _due_change(event: Event, at: datetime) -> list[DueChange]:
    """The due_events rows an event sets (a time) or removes (None)."""
    match event:
        case OrderPlaced() if event.pay_by is not None:
            return [((EXPIRE, event.order_id), event.pay_by)]
        case PaymentCaptured() if event.refused is None:
            # Paid: no longer due to expire, and due to be delivered (or else queued) within the deadline,
            # even if risk never answers.
            return [((EXPIRE, event.order_id), None), ((DELIVER, event.order_id), at + DELIVERY_DEADLINE)]
        case OrderHeld():
            return [((DELIVER, event.order_id), None)]  # a reviewer owns it now; approval sets a new deadline
        case OrderPaid():
            return [((EXPIRE, event.order_id), None), ((DELIVER, event.order_id), at + DELIVERY_DEADLINE)]
        case RefundRequested():
            # A refund that names keys waits for inventory to take them back (RefundKeysCleared).
            return [] if names_keys(event) else [((REFUND, event.refund_id), at)]
        case RefundKeysCleared():
            return [] if event.refused else [((REFUND, event.refund_id), at)]
        case RefundSent():
            return [((REFUND, event.refund_id), event.next_attempt_at)]
        case RefundSucceeded():
            return [((REFUND, event.refund_id), None)]
    changes: list[DueChange] = []
    if isinstance(event, _ENDS_WAIT):
        changes.append(((EXPIRE, event.order_id), None))
    if isinstance(event, _ENDS_DELIVERY):
        changes.append(((DELIVER, event.order_id), None))
    return changes


def _lines_json(order: Order) -> str:
    return json.dumps([
        {"line_no": ln.line_no, "sku_id": ln.sku_id, "quantity": ln.quantity,
         "unit_price_minor": ln.unit_price.minor_units}
        for ln in order.lines
    ])


def _through(phase: Phase, events: Sequence[Event]) -> Phase:
    for event in events:
        phase = advance(phase, event)
    return phase


@dataclass(frozen=True)
class OrderChange:
    """The fold of one order's events in a batch, for an order placed in an earlier batch."""

    order_id: str
    status_after: dict[str, str]
    risk_after: dict[str, str]
    captured_txn_id: str | None
    version: int
    updated_at: datetime
    captured_provider: str | None = None
    # Payments refused in the batch: not an orders column; the refunds projection holds them (each refused
    # payment is refunded in its own append) and the repository reads them from there.
    refused_txn_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, order_id: str, events: Sequence[Event], version: int, at: datetime) -> OrderChange:
        status_after: dict[str, str] = {}
        for status in Status:
            after = _through(Phase(status, RiskDecision.PENDING, None), events).status
            if after is not status:
                status_after[status.value] = after.value
        risk_after: dict[str, str] = {}
        for risk in RiskDecision:
            decided = _through(Phase(Status.PENDING_PAYMENT, risk, None), events).risk_decision
            if decided is not risk:
                risk_after[risk.value] = decided.value
        moved = _through(Phase(Status.PENDING_PAYMENT, RiskDecision.PENDING, None), events)
        return cls(order_id, status_after, risk_after, moved.captured_txn_id, version, at,
                   moved.captured_provider, moved.refused_txn_ids)

    def applied_to(self, order: Order) -> Order:
        """What the UPDATE makes of a row holding `order` (the projection's SQL, in Python)."""
        return Order(
            order.order_id, order.buyer_id, order.buyer_email, order.channel, order.lines, order.total,
            Status(self.status_after.get(order.status.value, order.status.value)),
            RiskDecision(self.risk_after.get(order.risk_decision.value, order.risk_decision.value)),
            self.captured_txn_id or order.captured_txn_id, self.version, order.placed_at,
            order.idempotency_key, order.pay_by, self.captured_provider or order.captured_provider,
            order.refused_txn_ids | self.refused_txn_ids,
        )


@dataclass
class Writes:
    """The rows a batch of events implies, table by table."""

    placed: list[tuple[Order, datetime]] = field(default_factory=list)
    changed: list[OrderChange] = field(default_factory=list)
    notices: list[tuple[str, str, str, str, datetime]] = field(default_factory=list)
    payments: list[tuple[str, str, str, int, str, datetime, str | None]] = field(default_factory=list)
    #: due_events rows, (kind, aggregate id) -> due time, or None to remove it.
    due: dict[tuple[str, str], datetime | None] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Sequence[StoredEvent]) -> Writes:
        writes = cls()
        per_order: dict[str, list[tuple[Event, StoredEvent]]] = {}
        for stored in events:
            if stored.type == NOTICE_ACCEPTED:
                n = notice_from_proto(stored.payload)
                writes.notices.append((n.provider, n.nonce, n.order_id, n.txn_id, stored.occurred_at))
                continue
            if stored.type not in ORDER_EVENT_TYPES:
                continue
            ev = event_from_proto(stored.payload, stored.occurred_at)
            per_order.setdefault(ev.order_id, []).append((ev, stored))
            if isinstance(ev, PaymentCaptured):
                writes.payments.append((
                    ev.provider, ev.txn_id, ev.order_id, ev.amount.minor_units, ev.amount.currency,
                    stored.occurred_at, ev.refused.value if ev.refused else None,
                ))
            for key, due_at in _due_change(ev, stored.occurred_at):
                writes.due[key] = due_at
        for order_id, pairs in per_order.items():
            domain = [ev for ev, _ in pairs]
            last = pairs[-1][1]
            if isinstance(domain[0], OrderPlaced):
                order = fold(domain)
                assert order is not None
                writes.placed.append((order, last.occurred_at))
            else:
                writes.changed.append(
                    OrderChange.of(order_id, domain, last.aggregate_version, last.occurred_at)
                )
        return writes

    def statement(self) -> tuple[str, list[Any]] | None:
        """One statement making every write (CTEs for all but the last), or None when there is none."""
        parts: list[tuple[str, list[Any]]] = []
        if self.placed:
            rows = [order for order, _ in self.placed]
            parts.append((_INSERT_ORDERS, [
                [o.order_id for o in rows], [o.buyer_id for o in rows], [o.channel for o in rows],
                [o.status.value for o in rows],
                [o.risk_decision.value for o in rows], [_lines_json(o) for o in rows],
                [o.total.minor_units for o in rows], [o.total.currency for o in rows],
                [o.captured_txn_id for o in rows], [o.version for o in rows],
                [o.idempotency_key for o in rows], [o.placed_at for o in rows],
                [at for _, at in self.placed], [o.pay_by for o in rows], [o.captured_provider for o in rows],
            ]))
        if self.notices:
            parts.append((_INSERT_NOTICES, [list(column) for column in zip(*self.notices, strict=True)]))
        if self.payments:
            parts.append((_INSERT_PAYMENTS, [list(column) for column in zip(*self.payments, strict=True)]))
        due_set = [(kind, key, at) for (kind, key), at in self.due.items() if at is not None]
        if due_set:
            parts.append((_UPSERT_DUE, [list(column) for column in zip(*due_set, strict=True)]))
        due_gone = [key for key, at in self.due.items() if at is None]
        if due_gone:
            parts.append((_DELETE_DUE, [list(column) for column in zip(*due_gone, strict=True)]))
        if self.changed:
            c = self.changed
            parts.append((_UPDATE_ORDERS, [
                [x.order_id for x in c], [json.dumps(x.status_after) for x in c],
                [json.dumps(x.risk_after) for x in c], [x.captured_txn_id for x in c],
                [x.version for x in c], [x.updated_at for x in c], [x.captured_provider for x in c],
            ]))
        if not parts:
            return None
        *ctes, (last, last_params) = parts
        if not ctes:
            return last, last_params
        with_clause = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(ctes))
        params = [p for _, ps in ctes for p in ps] + last_params
        return f"WITH {with_clause} {last}", params


class OrdersProjection(Projection):
    """Orders' state and payment record (see the module's docstring): one statement per batch."""

    name = "orders"
    tables = ("orders", "payment_notices", "payments", "due_events")
    handles = ORDER_EVENT_TYPES | {NOTICE_ACCEPTED}
    # Read by the pages and the deadline scan, never by this projection (it writes by primary key).
    indexes_after_load = frozenset({
        "orders_buyer_keyset", "orders_newest", "payments_order", "due_events_due",
    })

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        statement = Writes.of(events).statement()
        if statement is not None:
            await conn.execute(*statement)
