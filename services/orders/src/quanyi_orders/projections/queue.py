"""`exception_queue`: paid orders that need an operator, and what the operator did (the fold of each
order's OrderQueued and QueueEntryResolved, which come in order). At most two statements per batch: an
upsert of the orders queued in the batch (folded with their later events) and an update of the ones
resolved that were queued before. A second OrderQueued reopens the entry with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_orders.adapters.proto_mapping import event_from_proto
from quanyi_orders.domain.events import OrderQueued, QueueEntryResolved

_UPSERT = (
    "INSERT INTO exception_queue (order_id, reason, source, queued_at, resolution, actor, note, resolved_at)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::text[],"
    " %b::text[], %b::timestamptz[])"
    " ON CONFLICT (order_id) DO UPDATE SET reason = excluded.reason, source = excluded.source,"
    " queued_at = excluded.queued_at, resolution = excluded.resolution, actor = excluded.actor,"
    " note = excluded.note, resolved_at = excluded.resolved_at"
)
_RESOLVE = (
    "UPDATE exception_queue AS q SET resolution = u.resolution, actor = u.actor, note = u.note,"
    " resolved_at = u.resolved_at"
    " FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[])"
    " AS u(order_id, resolution, actor, note, resolved_at) WHERE q.order_id = u.order_id"
)


@dataclass
class _Row:
    queued: tuple[str, str, datetime] | None = None  # reason, source, queued_at
    resolved: tuple[str, str, str, datetime] | None = None  # action, actor, note, at


class QueueProjection(Projection):
    """The exception queue (see the module's docstring)."""

    name = "exception_queue"
    tables = ("exception_queue",)
    handles = frozenset(m.DESCRIPTOR.full_name for m in (pb_events.OrderQueued, pb_events.QueueEntryResolved))
    # Read by the queue's pages; this projection writes by order_id.
    indexes_after_load = frozenset({"exception_queue_open", "exception_queue_keyset"})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows: dict[str, _Row] = {}
        for stored in events:
            ev = event_from_proto(stored.payload, stored.occurred_at)
            if isinstance(ev, OrderQueued):
                rows[ev.order_id] = _Row((ev.reason, ev.source, stored.occurred_at))
            elif isinstance(ev, QueueEntryResolved):
                row = rows.setdefault(ev.order_id, _Row())
                row.resolved = (ev.action, ev.actor, ev.note, stored.occurred_at)
        upserts = [(o, r, r.queued) for o, r in rows.items() if r.queued is not None]
        if upserts:
            await conn.execute(_UPSERT, [
                [o for o, _, _ in upserts], [q[0] for _, _, q in upserts], [q[1] for _, _, q in upserts],
                [q[2] for _, _, q in upserts],
                *([r.resolved[i] if r.resolved else None for _, r, _ in upserts] for i in range(4)),
            ])
        resolves = [(o, r.resolved) for o, r in rows.items() if r.queued is None and r.resolved is not None]
        if resolves:
            await conn.execute(_RESOLVE, [[o for o, _ in resolves],
                                          *([x[i] for _, x in resolves] for i in range(4))])
