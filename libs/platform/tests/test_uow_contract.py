"""The EventLog / UnitOfWork contract, against Postgres and against the in-memory fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_platform import db
from quanyi_platform.eventstore import EventStore
from quanyi_platform.testing.contracts import EventLogContract, UowFactory, Versions
from quanyi_platform.uow import InMemoryEventLog, InMemoryUnitOfWork, PgUnitOfWork


class TestInMemoryEventLog(EventLogContract):
    @pytest.fixture
    def log(self) -> InMemoryEventLog:
        return InMemoryEventLog()

    @pytest.fixture
    def uow_factory(self, log: InMemoryEventLog) -> UowFactory:
        return lambda: InMemoryUnitOfWork(log)

    @pytest.fixture
    def committed_versions(self, log: InMemoryEventLog) -> Versions:
        async def versions(aggregate_id: str) -> list[int]:
            return [e.aggregate_version for e in log.committed if e.aggregate_id == aggregate_id]

        return versions


class TestPostgresEventLog(EventLogContract):
    @pytest.fixture
    async def pool(self, database_url: str) -> AsyncIterator[AsyncConnectionPool]:
        await db.migrate(database_url, "uow_test", [])
        p = await db.create_pool(database_url, "uow_test")
        yield p
        await p.close()

    @pytest.fixture
    def uow_factory(self, pool: AsyncConnectionPool) -> UowFactory:
        store = EventStore("uow_test")
        return lambda: PgUnitOfWork(store, pool=pool)

    @pytest.fixture
    def committed_versions(self, pool: AsyncConnectionPool) -> Versions:
        async def versions(aggregate_id: str) -> list[int]:
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT aggregate_version AS v FROM events WHERE aggregate_id = %s ORDER BY seq",
                    (aggregate_id,),
                )
                return [int(r["v"]) for r in await cur.fetchall()]

        return versions
