"""`refunds`: every refund owed to a buyer and how far it got (the fold of its RefundRequested,
RefundKeysCleared, RefundSent, RefundSucceeded and RefundDeclined, which are its order's events, so a
refund's events come in order).

At most two statements per batch: one INSERT of the refunds requested in the batch (already folded
with their later events in the batch) and one UPDATE of refunds requested before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_orders.adapters.proto_mapping import event_from_proto
from quanyi_orders.domain.events import (
    RefundDeclined,
    RefundKeysCleared,
    RefundLine,
    RefundRequested,
    RefundSent,
    RefundSucceeded,
)
from quanyi_orders.domain.refund import Refund, evolve, requested

_TYPES = frozenset(
    m.DESCRIPTOR.full_name
    for m in (pb_events.RefundRequested, pb_events.RefundSent, pb_events.RefundSucceeded,
              pb_events.RefundKeysCleared, pb_events.RefundDeclined)
)
_INSERT = (
    "INSERT INTO refunds (refund_id, order_id, provider, txn_id, amount_minor, currency, reason, lines,"
    " actor, status, attempts, last_outcome, provider_refund_id, requested_at, succeeded_at, keys_state,"
    " keys_reason, override_redeemed, closed_action, closed_by, closed_note)"
    " SELECT u.refund_id, u.order_id, u.provider, u.txn_id, u.amount_minor, u.currency, u.reason,"
    " u.lines::jsonb, u.actor, u.status, u.attempts, u.last_outcome, u.provider_refund_id, u.requested_at,"
    " u.succeeded_at, u.keys_state, u.keys_reason, u.override_redeemed, u.closed_action, u.closed_by,"
    " u.closed_note"
    " FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::int[], %b::text[], %b::text[], %b::timestamptz[],"
    " %b::timestamptz[], %b::text[], %b::text[], %b::bool[], %b::text[], %b::text[], %b::text[])"
    " AS u(refund_id, order_id, provider, txn_id, amount_minor, currency, reason, lines, actor, status,"
    " attempts, last_outcome, provider_refund_id, requested_at, succeeded_at, keys_state, keys_reason,"
    " override_redeemed, closed_action, closed_by, closed_note)"
)
_UPDATE = (
    "UPDATE refunds AS r SET attempts = greatest(r.attempts, u.attempts),"
    " last_outcome = coalesce(u.last_outcome, r.last_outcome),"
    " provider_refund_id = coalesce(u.provider_refund_id, r.provider_refund_id),"
    " succeeded_at = coalesce(r.succeeded_at, u.succeeded_at),"
    " keys_state = coalesce(u.keys_state, r.keys_state),"
    " keys_reason = coalesce(u.keys_reason, r.keys_reason),"
    " status = CASE WHEN u.closed_action IS NOT NULL AND r.status = 'REQUESTED' THEN 'DECLINED'"
    " WHEN u.succeeded THEN 'SUCCEEDED' ELSE r.status END,"
    " closed_action = coalesce(u.closed_action, r.closed_action),"
    " closed_by = coalesce(u.closed_by, r.closed_by),"
    " closed_note = coalesce(u.closed_note, r.closed_note)"
    " FROM unnest(%b::text[], %b::int[], %b::text[], %b::bool[], %b::text[], %b::timestamptz[], %b::text[],"
    " %b::text[], %b::text[], %b::text[], %b::text[])"
    " AS u(refund_id, attempts, last_outcome, succeeded, provider_refund_id, succeeded_at, keys_state,"
    " keys_reason, closed_action, closed_by, closed_note)"
    " WHERE r.refund_id = u.refund_id"
)


def lines_json(lines: Sequence[RefundLine]) -> str:
    return json.dumps([
        {"line_no": ln.line_no, "sku_id": ln.sku_id, "quantity": ln.quantity,
         "amount_minor": ln.amount.minor_units, "released": ln.released, "voided": ln.voided,
         "redeemed": ln.redeemed}
        for ln in lines
    ])


class _Row:
    """One refund's changes in a batch."""

    def __init__(self) -> None:
        self.new: Refund | None = None
        self.requested_at: datetime | None = None
        self.attempts = 0
        self.last_outcome: str | None = None
        self.succeeded_at: datetime | None = None
        self.provider_refund_id: str | None = None
        self.keys_state: str | None = None
        self.keys_reason: str | None = None
        self.closed: tuple[str, str, str] | None = None  # action, by, note


class RefundsProjection(Projection):
    """Refunds and their progress (see the module's docstring)."""

    name = "refunds"
    tables = ("refunds",)
    handles = _TYPES
    indexes_after_load = frozenset({"refunds_order"})  # this projection writes by refund_id

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows: dict[str, _Row] = {}
        for stored in events:
            ev = event_from_proto(stored.payload, stored.occurred_at)
            if not isinstance(ev, RefundRequested | RefundSent | RefundSucceeded | RefundKeysCleared
                              | RefundDeclined):
                continue
            row = rows.setdefault(ev.refund_id, _Row())
            if isinstance(ev, RefundRequested):
                row.new, row.requested_at = requested(ev), stored.occurred_at
                continue
            if row.new is not None:
                row.new = evolve(row.new, ev)
            if isinstance(ev, RefundSent):
                row.attempts, row.last_outcome = max(row.attempts, ev.attempt), ev.outcome
            elif isinstance(ev, RefundKeysCleared):
                row.keys_state = "refused" if ev.refused else "cleared"
                row.keys_reason = ev.reason if ev.refused else None
            elif isinstance(ev, RefundDeclined):
                row.closed = (ev.action, ev.actor, ev.note)
            else:
                row.succeeded_at = row.succeeded_at or stored.occurred_at
                row.provider_refund_id = ev.provider_refund_id
        inserts = [(r.new, r) for r in rows.values() if r.new is not None]
        updates = [(rid, r) for rid, r in rows.items() if r.new is None]
        if inserts:
            await conn.execute(_INSERT, [
                [f.refund_id for f, _ in inserts], [f.order_id for f, _ in inserts],
                [f.provider for f, _ in inserts], [f.txn_id for f, _ in inserts],
                [f.amount.minor_units for f, _ in inserts], [f.amount.currency for f, _ in inserts],
                [f.reason.value for f, _ in inserts], [lines_json(f.lines) for f, _ in inserts],
                [f.actor for f, _ in inserts], [f.status.value for f, _ in inserts],
                [f.attempts for f, _ in inserts], [r.last_outcome for _, r in inserts],
                [f.provider_refund_id or None for f, _ in inserts], [r.requested_at for _, r in inserts],
                [r.succeeded_at for _, r in inserts], [f.keys.value for f, _ in inserts],
                [f.keys_reason or None for f, _ in inserts], [f.override_redeemed for f, _ in inserts],
                *([r.closed[i] if r.closed else None for _, r in inserts] for i in range(3)),
            ])
        if updates:
            await conn.execute(_UPDATE, [
                [rid for rid, _ in updates], [r.attempts for _, r in updates],
                [r.last_outcome for _, r in updates], [r.succeeded_at is not None for _, r in updates],
                [r.provider_refund_id for _, r in updates], [r.succeeded_at for _, r in updates],
                [r.keys_state for _, r in updates], [r.keys_reason for _, r in updates],
                *([r.closed[i] if r.closed else None for _, r in updates] for i in range(3)),
            ])
