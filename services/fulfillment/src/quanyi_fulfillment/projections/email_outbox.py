"""The delivery e-mail queue: one row per queued e-mail with its state, attempts and when it is due.

Every e-mail event sets the fields it names to absolute values (domain.aggregate.email_change), so a batch's
events of one order fold in memory into one change per order; then one INSERT writes the e-mails queued in
the batch (already folded to their state at the batch's end) and one UPDATE the others (unnest). `version`
follows the order's Delivery stream (DeliveryFailed and ChannelDelivered included), which an e-mail event
is appended after.
All events of a row are one order's Delivery stream, in version order, live and in replay alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import (
    CHANNEL_DELIVERED,
    DELIVERY_FAILED,
    EMAIL_ATTEMPT_FAILED,
    EMAIL_ATTEMPT_STARTED,
    EMAIL_CANCELLED,
    EMAIL_GIVEN_UP,
    EMAIL_QUEUED,
    EMAIL_SENT,
    recorded_of,
)
from quanyi_fulfillment.domain.aggregate import EmailChange, email_change
from quanyi_fulfillment.domain.events import (
    DELIVERY,
    EmailEvent,
    EmailQueued,
    KeyDelivered,
)


@dataclass
class _Row:
    version: int
    queued: bool = False  # the e-mail was queued in this batch
    change: EmailChange = field(default_factory=EmailChange)


class EmailOutbox(Projection):
    name = "email_outbox"
    tables = ("email_outbox",)
    handles = frozenset({
        EMAIL_QUEUED, EMAIL_ATTEMPT_STARTED, EMAIL_SENT, EMAIL_ATTEMPT_FAILED, EMAIL_GIVEN_UP,
        EMAIL_CANCELLED, DELIVERY_FAILED, CHANNEL_DELIVERED,
    })

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows: dict[str, _Row] = {}
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None or recorded.stream != DELIVERY or isinstance(recorded.event, KeyDelivered):
                continue  # a channel request's own stream, or a redemption's
            row = rows.setdefault(recorded.order_id, _Row(recorded.version))
            row.version = recorded.version
            event = recorded.event
            if not isinstance(event, EmailEvent):
                continue
            if isinstance(event, EmailQueued):
                row.queued = True
                row.change = email_change(event)
            else:
                row.change = row.change.then(email_change(event))
        queued = {k: r for k, r in rows.items() if r.queued}
        updated = {k: r for k, r in rows.items() if not r.queued}
        if queued:
            await conn.execute(
                "INSERT INTO email_outbox (order_id, state, attempts, next_attempt_at,"
                " last_error, lease, updated_at, version)"
                " SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::timestamptz[],"
                " %b::text[], %b::int[], %b::timestamptz[], %b::bigint[])",
                _columns(queued),
            )
        if updated:
            await conn.execute(
                "UPDATE email_outbox AS e SET state = coalesce(u.state, e.state),"
                " attempts = coalesce(u.attempts, e.attempts),"
                " next_attempt_at = coalesce(u.next_attempt_at, e.next_attempt_at),"
                " last_error = coalesce(u.last_error, e.last_error), lease = coalesce(u.lease, e.lease),"
                " updated_at = coalesce(u.updated_at, e.updated_at), version = u.version"
                " FROM unnest(%b::text[], %b::text[], %b::int[], %b::timestamptz[], %b::text[], %b::int[],"
                " %b::timestamptz[], %b::bigint[])"
                " AS u(order_id, state, attempts, next_attempt_at, last_error, lease, updated_at, version)"
                " WHERE e.order_id = u.order_id",
                _columns(updated),
            )


def _columns(rows: dict[str, _Row]) -> list[list[Any]]:
    order_ids = sorted(rows)
    changes = [rows[k].change for k in order_ids]
    columns: list[list[Any]] = [order_ids]
    columns += [
        [c.status.value if c.status is not None else None for c in changes],
        [c.attempts for c in changes],
        [c.next_attempt_at for c in changes],
        [c.last_error for c in changes],
        [c.lease for c in changes],
        [c.updated_at for c in changes],
        [rows[k].version for k in order_ids],
    ]
    return columns
