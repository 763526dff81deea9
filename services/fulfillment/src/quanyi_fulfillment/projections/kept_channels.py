"""The kept-channel queue: one row per order and channel the buyer keeps a target for, while its delivery
is in hand (requested, or claimed until its lease runs out); the outcome removes the row.

A batch's events of one KeptChannel stream fold in memory (domain.kept_channels.evolve_kept) into one
final state per row: new rows are inserted at their state, rows seen before are updated to absolute
values, ended rows are deleted (unnest, one statement each). All events of a row are one stream's, in
version order, live and in replay alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import (
    CHANNEL_ATTEMPT_STARTED,
    CHANNEL_CANCELLED,
    CHANNEL_DELIVERED,
    CHANNEL_REQUESTED,
    DELIVERY_FAILED,
    recorded_of,
)
from quanyi_fulfillment.domain.events import KEPT_CHANNEL, ChannelRequested
from quanyi_fulfillment.domain.kept_channels import KeptDelivery, KeptStatus, evolve_kept


class KeptChannels(Projection):
    name = "kept_channels"
    tables = ("kept_channels",)
    handles = frozenset({
        CHANNEL_REQUESTED, CHANNEL_ATTEMPT_STARTED, CHANNEL_DELIVERED, DELIVERY_FAILED, CHANNEL_CANCELLED,
    })

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        states: dict[tuple[str, str], KeptDelivery] = {}
        new: set[tuple[str, str]] = set()
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None or recorded.stream != KEPT_CHANNEL:
                continue
            order_id, _, channel = recorded.stream_id.rpartition(":")
            key = (order_id, channel)
            if isinstance(recorded.event, ChannelRequested):
                new.add(key)
            elif key not in states:
                # Seen in an earlier batch: its own fields are overwritten by this batch's events.
                states[key] = KeptDelivery(
                    order_id, channel, KeptStatus.PENDING, recorded.event.at, 0, recorded.version - 1
                )
            state = evolve_kept(states.get(key), recorded)
            assert state is not None
            states[key] = state
        inserted = [s for k, s in states.items() if k in new and s.status is not KeptStatus.DONE]
        updated = [s for k, s in states.items() if k not in new and s.status is not KeptStatus.DONE]
        ended = [s for k, s in states.items() if k not in new and s.status is KeptStatus.DONE]
        if inserted:
            await conn.execute(
                "INSERT INTO kept_channels (order_id, channel, state, due_at, lease, version)"
                " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::int[],"
                " %b::bigint[])",
                _columns(inserted),
            )
        if updated:
            await conn.execute(
                "UPDATE kept_channels AS k SET state = u.state, due_at = u.due_at, lease = u.lease,"
                " version = u.version"
                " FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::int[], %b::bigint[])"
                " AS u(order_id, channel, state, due_at, lease, version)"
                " WHERE k.order_id = u.order_id AND k.channel = u.channel",
                _columns(updated),
            )
        if ended:
            await conn.execute(
                "DELETE FROM kept_channels AS k USING unnest(%b::text[], %b::text[]) AS u(order_id, channel)"
                " WHERE k.order_id = u.order_id AND k.channel = u.channel",
                ([s.order_id for s in ended], [s.channel for s in ended]),
            )


def _columns(rows: list[KeptDelivery]) -> list[list[Any]]:
    rows = sorted(rows, key=lambda s: (s.order_id, s.channel))
    return [
        [s.order_id for s in rows],
        [s.channel for s in rows],
        [s.status.value for s in rows],
        [s.due_at for s in rows],
        [s.lease for s in rows],
        [s.version for s in rows],
    ]
