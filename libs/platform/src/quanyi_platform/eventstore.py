"""The per-service event store, which is also the transactional outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool

from quanyi_platform import telemetry
from quanyi_platform.envelope import Envelope, NewEvent, seal
from quanyi_platform.projection import Projection, StoredEvent, project

T = TypeVar("T")


class ConcurrencyConflict(Exception):
    """Another writer appended to the same aggregate first; reload and decide again."""


def topic_for(service: str) -> str:
    """Each service publishes to one topic, `quanyi.<service>.v1`."""
    return f"quanyi.{service}.v1"


class EventStore:
    """Appends events in the caller's transaction.

    Guarantee: the events commit or roll back with the caller's state changes, so an event exists if
    and only if the state change it explains exists. Versions of one aggregate are unique: a second
    append of the same version raises ConcurrencyConflict (and aborts the caller's transaction).
    The relay later publishes the rows to `topic` in seq order.

    `projections` run inline: the appended events are projected in the same transaction, so the
    service's tables and its record never disagree (and `quanyi replay` runs the same projections).
    """

    def __init__(
        self, producer: str, topic: str | None = None, projections: Sequence[Projection] = ()
    ) -> None:
        self.producer = producer
        self.topic = topic or topic_for(producer)
        self.projections: tuple[Projection, ...] = tuple(projections)
        # Set on every append: the relay of this process wakes for it (Relay(wakeup=store.appended)).
        self.appended = asyncio.Event()

    async def append(self, conn: AsyncConnection[Any], events: Sequence[NewEvent]) -> list[Envelope]:
        if not events:
            return []
        carrier = telemetry.inject_headers()  # one trace context for the whole append
        envs = [seal(e, self.producer, carrier) for e in events]
        try:
            await conn.execute(
                # The CTE takes the transaction's id before nextval() draws a seq: the relay relies on
                # every seq being drawn by a transaction that already has its id (see Relay).
                "WITH x AS MATERIALIZED (SELECT pg_current_xact_id())"
                " INSERT INTO events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
                " topic, correlation_id, envelope, occurred_at)"
                # The envelopes go as one binary bytea[] (%b: psycopg's text form escapes every byte, ~50 µs
                # an event) and the other columns as one JSON text of rows (json.dumps is C; dumping eight
                # arrays cost ~1 µs an element even in binary). ROWS FROM zips the two in order, so seqs are
                # drawn in the order of `events`.
                " SELECT (r->>0)::uuid, r->>1, r->>2, (r->>3)::bigint, r->>4, %s, r->>5, envelope,"
                " (r->>6)::timestamptz"
                " FROM x, ROWS FROM (json_array_elements(%s::json), unnest(%b::bytea[])) AS u(r, envelope)",
                (
                    self.topic,
                    json.dumps([
                        [e.event_id, e.aggregate_type, e.aggregate_id, e.aggregate_version, e.type,
                         e.correlation_id, ev.occurred_at.isoformat()]
                        for e, ev in zip(envs, events, strict=True)
                    ]),
                    [e.SerializeToString() for e in envs],
                ),
            )
        except errors.UniqueViolation as exc:
            raise ConcurrencyConflict(str(exc.diag.constraint_name or "")) from exc
        if self.projections:
            await project(
                conn,
                self.projections,
                [StoredEvent(env, ev.payload, ev.occurred_at) for env, ev in zip(envs, events, strict=True)],
            )
        self.appended.set()
        return envs


async def in_transaction(
    pool: AsyncConnectionPool, work: Callable[[AsyncConnection[Any]], Awaitable[T]], attempts: int = 5
) -> T:
    """Run `work` in one transaction, retrying from scratch when an optimistic append conflicts."""
    for attempt in range(attempts):
        try:
            async with pool.connection() as conn, conn.transaction():
                return await work(conn)
        except (ConcurrencyConflict, errors.SerializationFailure):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
