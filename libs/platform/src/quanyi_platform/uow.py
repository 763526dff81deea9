"""The Unit of Work and the event-log port that every service's application layer talks to.

Application code never sees a database connection: it opens a unit of work, loads what it needs through
the service's repositories (ports declared by the service), decides, appends the new events through
`uow.events`, and commits. Two implementations of each port exist, a Postgres one and an in-memory fake,
and one shared contract suite (`quanyi_platform.testing.contracts`) runs against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from quanyi_platform.envelope import Envelope, NewEvent, seal
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore
from quanyi_platform.projection import StoredEvent


class EventLog(ABC):
    """The service's own event store, seen from a unit of work.

    Guarantees: appended events commit with the unit of work or not at all; a second event with the same
    (aggregate type, aggregate id, version) raises ConcurrencyConflict; the service's projections see the
    events in the same unit of work.
    """

    @abstractmethod
    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        """Append `events` (in order) to the unit of work's transaction."""


class UnitOfWork(ABC):
    """One transaction: `async with uow: ...; await uow.commit()`. Leaving without commit rolls back.

    A unit of work bound to a transaction someone else owns (a consumer's inbox transaction) commits with
    that transaction: its `commit` only marks it done.
    """

    events: EventLog

    async def __aenter__(self) -> Self:
        await self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._end(commit=False)

    async def _begin(self) -> None:
        return None

    @abstractmethod
    async def commit(self) -> None:
        """Make everything done in this unit of work permanent."""

    @abstractmethod
    async def _end(self, commit: bool) -> None:
        """Roll back whatever was not committed and release the transaction."""


# -- Postgres ----------------------------------------------------------------------------------------


class PgEventLog(EventLog):
    def __init__(self, conn: Any, store: EventStore) -> None:
        self._conn = conn
        self._store = store

    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        return await self._store.append(self._conn, events)


class PgUnitOfWork(UnitOfWork):
    """A transaction on a pooled connection, or bound to a connection already in a transaction.

    Services subclass it and build their repositories from `self.conn` in `_bind`.
    """

    def __init__(self, store: EventStore, pool: Any = None, conn: Any = None) -> None:
        if (pool is None) == (conn is None):
            raise ValueError("give a pool (own transaction) or a connection (bound to its transaction)")
        self._store = store
        self._pool = pool
        self._bound = conn is not None
        self.conn: Any = conn
        self._cm: Any = None
        self._tx: Any = None
        if conn is not None:
            self._attach(conn)

    def _attach(self, conn: Any) -> None:
        self.conn = conn
        self.events = PgEventLog(conn, self._store)
        self._bind(conn)

    def _bind(self, conn: Any) -> None:
        """Build the service's repositories on `conn`."""

    async def _begin(self) -> None:
        if self._bound:
            return
        self._cm = self._pool.connection()
        conn = await self._cm.__aenter__()
        self._tx = conn.transaction()
        await self._tx.__aenter__()
        self._attach(conn)

    async def commit(self) -> None:
        if self._bound:
            return
        await self._end(commit=True)

    async def _end(self, commit: bool) -> None:
        if self._bound or self._cm is None:
            return
        tx, cm = self._tx, self._cm
        self._tx = self._cm = None
        try:
            if commit:
                await tx.__aexit__(None, None, None)
            else:
                await tx.__aexit__(_Rollback, _Rollback(), None)
        except _Rollback:
            pass
        finally:
            await cm.__aexit__(None, None, None)


class _Rollback(Exception):
    """Raised into psycopg's transaction block to roll it back."""


# -- in memory ---------------------------------------------------------------------------------------


class InMemoryEventLog(EventLog):
    """The fake event store: the committed events, in order, and those of the open unit of work."""

    def __init__(self, producer: str = "test") -> None:
        self.producer = producer
        self.committed: list[StoredEvent] = []
        self.pending: list[StoredEvent] = []
        self._versions: set[tuple[str, str, int]] = set()

    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        envs = [seal(e, self.producer) for e in events]
        keys = [(e.aggregate_type, e.aggregate_id, e.aggregate_version) for e in envs]
        taken = self._versions | {(p.envelope.aggregate_type, p.aggregate_id, p.aggregate_version)
                                  for p in self.pending}
        if len(set(keys)) != len(keys) or any(k in taken for k in keys):
            raise ConcurrencyConflict("aggregate version already appended")
        self.pending.extend(
            StoredEvent(env, ev.payload, ev.occurred_at) for env, ev in zip(envs, events, strict=True)
        )
        return envs

    def commit(self) -> None:
        for n, e in enumerate(self.pending, start=len(self.committed) + 1):
            self._versions.add((e.envelope.aggregate_type, e.aggregate_id, e.aggregate_version))
            self.committed.append(StoredEvent(e.envelope, e.payload, e.occurred_at, n))
        self.pending.clear()

    def rollback(self) -> None:
        self.pending.clear()

    def all(self) -> list[StoredEvent]:
        """Committed events, then those of the open unit of work."""
        return [*self.committed, *self.pending]


class InMemoryUnitOfWork(UnitOfWork):
    """A fake unit of work over an InMemoryEventLog: commit keeps the pending events, exit drops them.

    Services subclass it; their fake repositories fold `self.events.all()` or keep their own state, and
    override `_on_commit` / `_on_rollback` for it.
    """

    def __init__(self, events: InMemoryEventLog | None = None) -> None:
        self.events: InMemoryEventLog = events or InMemoryEventLog()
        self.committed = False

    async def commit(self) -> None:
        self.events.commit()
        self._on_commit()
        self.committed = True

    async def _end(self, commit: bool) -> None:
        if self.events.pending:
            self.events.rollback()
            self._on_rollback()

    def _on_commit(self) -> None:
        return None

    def _on_rollback(self) -> None:
        return None
