"""`quanyi.common.v1.EventHistoryService`, answered by every event-sourced service from its own event store:
the events that concern an order or a key, for the cross-service history (quanyi_platform.history).

A service registers it in its bootstrap with one line, `event_history.serve(server, NAME, pool)`, adding
a `HistoryScope` when it knows more than correlation ids say (the ledger's posting batches; inventory's
keys). Internal, like the other operators' RPCs: only the gateway calls it, after checking the operator's
role; services are not reachable from outside.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi.common.v1 import history_pb2 as pb
from quanyi.common.v1 import history_pb2_grpc as pb_grpc

from quanyi_platform.envelope import datetime_of, open_envelope, set_timestamp
from quanyi_platform.history import HistoryEvent, mentions_key

# At most this many events per answer, and ids per request: an order's whole life is a few dozen events.
MAX_EVENTS = 2_000
MAX_IDS = 100


class HistoryScope:
    """What a service knows, beyond correlation ids, about which of its events concern an order or a key.
    The defaults know nothing more; both run inside the look-up's transaction on the service's schema."""

    async def key_correlations(self, conn: AsyncConnection[Any], key_id: str) -> Sequence[str]:
        """The correlation ids (orders) whose events may name the key."""
        return ()

    async def related_seqs(self, conn: AsyncConnection[Any], correlation_ids: Sequence[str]) -> Sequence[int]:
        """Seqs of events that concern these correlation ids although correlated with another (a batch
        event that carries several orders' facts)."""
        return ()


class EventHistory(ABC):
    """The port: one service's events that concern some orders or a key."""

    @abstractmethod
    async def list_events(
        self, correlation_ids: Sequence[str], key_id: str, limit: int
    ) -> tuple[list[HistoryEvent], bool]:
        """The events correlated with any of `correlation_ids` or related to them by the service's scope,
        in seq order, at most `limit`; with `key_id`, the key's orders are searched too and only events
        whose payload names the key are kept. The flag says more matched than were returned."""


class PgEventHistory(EventHistory):
    """EventHistory on the service's `events` table: index look-ups (correlation_id, seq), never a scan of
    the envelopes."""

    def __init__(
        self, service: str, pool: AsyncConnectionPool[Any], scope: HistoryScope | None = None
    ) -> None:
        self.service = service
        self._pool = pool
        self._scope = scope or HistoryScope()

    async def list_events(
        self, correlation_ids: Sequence[str], key_id: str, limit: int
    ) -> tuple[list[HistoryEvent], bool]:
        async with self._pool.connection() as conn:
            ids = list(dict.fromkeys(correlation_ids))
            if key_id:
                ids = list(dict.fromkeys([*ids, *await self._scope.key_correlations(conn, key_id)]))
            if not ids:
                return [], False
            seqs = list(await self._scope.related_seqs(conn, ids))
            cur = await conn.execute(
                "SELECT seq, envelope, occurred_at FROM events"
                " WHERE correlation_id = ANY(%s::text[]) OR seq = ANY(%s::bigint[])"
                " ORDER BY seq LIMIT %s",
                (ids, seqs, limit + 1),
            )
            rows = await cur.fetchall()
        truncated = len(rows) > limit
        found = [self._decode(row) for row in rows[:limit]]
        if key_id:
            found = [e for e in found if mentions_key(e.payload, key_id)]
        return found, truncated

    def _decode(self, row: dict[str, Any]) -> HistoryEvent:
        env, payload = open_envelope(bytes(row["envelope"]))
        return HistoryEvent(
            service=self.service, seq=int(row["seq"]), event_id=env.event_id, type=env.type,
            aggregate_type=env.aggregate_type, aggregate_id=env.aggregate_id,
            correlation_id=env.correlation_id, causation_id=env.causation_id,
            occurred_at=row["occurred_at"].astimezone(UTC),
            payload=MessageToDict(payload) if payload is not None else {},
        )


def to_proto(e: HistoryEvent) -> pb.HistoryEvent:
    out = pb.HistoryEvent(
        seq=e.seq, event_id=e.event_id, type=e.type, aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id, correlation_id=e.correlation_id, causation_id=e.causation_id,
        payload_json=json.dumps(e.payload, ensure_ascii=False, sort_keys=True),
    )
    set_timestamp(out.occurred_at, e.occurred_at)
    return out


def from_proto(service: str, e: pb.HistoryEvent) -> HistoryEvent:
    """An answered event back as the fold's HistoryEvent (the caller names the service it asked)."""
    try:
        payload = json.loads(e.payload_json or "{}")
    except ValueError:
        payload = {}
    return HistoryEvent(
        service=service, seq=e.seq, event_id=e.event_id, type=e.type, aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id, correlation_id=e.correlation_id, causation_id=e.causation_id,
        occurred_at=datetime_of(e.occurred_at),
        payload=payload if isinstance(payload, dict) else {},
    )


class EventHistoryServicer(pb_grpc.EventHistoryServiceServicer):
    """Translates ListEvents into the EventHistory port; refuses a request that names nothing."""

    def __init__(self, service: str, history: EventHistory) -> None:
        self._service = service
        self._history = history

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEventsResponse:
        ids = [i for i in request.correlation_ids if i]
        if not ids and not request.key_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name correlation ids or a key id")
        if len(ids) > MAX_IDS or any(len(i) > 200 for i in ids) or len(request.key_id) > 200:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_IDS} ids of 200 characters")
        if request.limit < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "limit must not be negative")
        limit = min(request.limit or MAX_EVENTS, MAX_EVENTS)
        found, truncated = await self._history.list_events(ids, request.key_id, limit)
        return pb.ListEventsResponse(
            events=[to_proto(e) for e in found], truncated=truncated, service=self._service
        )


def serve(
    server: grpc.aio.Server, service: str, pool: AsyncConnectionPool[Any], scope: HistoryScope | None = None
) -> None:
    """Register the service's EventHistoryService on its gRPC server (before the server starts)."""
    pb_grpc.add_EventHistoryServiceServicer_to_server(
        EventHistoryServicer(service, PgEventHistory(service, pool, scope)), server
    )
