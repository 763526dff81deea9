"""Projections: every table a service reads is a function of its events.

A projection turns a batch of the service's events into set-based writes of the tables it owns. The live
path runs it inline, in the transaction that appends the events (EventStore.append); `quanyi replay` runs
the same code over the whole store (or the topic) into a shadow schema. Nothing else writes its tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from quanyi_platform.envelope import Envelope


@dataclass(frozen=True)
class StoredEvent:
    """An event of the service's own store, with its decoded payload.

    `seq` is its place in the store (None while it is being appended: the live path projects before the
    row's seq is read back, and no projection may depend on it).
    """

    envelope: Envelope
    payload: Message
    occurred_at: datetime
    seq: int | None = None
    #: The envelope's type, read once: every projection of a batch asks each event for it.
    type: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", str(self.envelope.type))

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)

    @property
    def aggregate_id(self) -> str:
        return str(self.envelope.aggregate_id)

    @property
    def aggregate_version(self) -> int:
        return int(self.envelope.aggregate_version)

    @property
    def correlation_id(self) -> str:
        return str(self.envelope.correlation_id)

    @property
    def causation_id(self) -> str:
        return str(self.envelope.causation_id)


class Projection(ABC):
    """A read model: the tables it owns and how a batch of events changes them.

    Guarantees asked of an implementation:
    - `apply` is deterministic: the same events in the same order give the same rows, whether they come
      one batch at a time (live) or in large batches (replay), and whatever the batch boundaries are.
    - It writes only `tables`, with a bounded number of statements per batch (unnest, executemany in a
      pipeline, COPY), never a statement per event.
    - It names tables unqualified: the connection's search path picks the live or the shadow schema.
    - A row's value does not depend on the order of causally unrelated events. Live, two concurrent
      transactions project in the order they take row locks; replay projects in seq order, which may be
      the other one. Events of one aggregate, and events written after reading another's result, are in
      seq order both ways; anything else that meets in one row must combine commutatively (counts, sums,
      max), never "the last one wins".
    """

    #: A short name, unique in the service (`quanyi replay SERVICE --projection NAME`).
    name: str
    #: The tables this projection owns, in an order that satisfies their foreign keys (parents first).
    tables: tuple[str, ...]
    #: The event types (full proto names) it reads; others are never passed to `apply`.
    handles: frozenset[str]
    #: Secondary (non-unique) indexes of its tables that its own statements never need: a rebuild creates
    #: them after the bulk load, one sorted build each, instead of inserting every row into them.
    indexes_after_load: frozenset[str] = frozenset()

    @abstractmethod
    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        """Make the writes that `events` (all of a type in `handles`, in store order) imply."""


async def project(conn: Any, projections: Iterable[Projection], events: Sequence[StoredEvent]) -> None:
    """Apply each projection to the events it handles, in order."""
    present = {e.type for e in events}
    for projection in projections:
        if not present & projection.handles:
            continue
        # A projection that handles every type in the batch takes it as it is (no copy of a large batch).
        handles = projection.handles
        mine = events if present <= handles else [e for e in events if e.type in handles]
        await projection.apply(conn, mine)


def of_type(events: Sequence[StoredEvent], message_type: type[Message]) -> list[StoredEvent]:
    """The events whose payload is a `message_type`, in order."""
    name = message_type.DESCRIPTOR.full_name
    return [e for e in events if e.type == name]
