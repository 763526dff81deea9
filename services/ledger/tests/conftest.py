"""Ledger's test fixtures: its schema migrated into a fresh database, a pool on it, its event store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_ledger.bootstrap import NAME
from quanyi_ledger.projections import PROJECTIONS
from quanyi_platform import db
from quanyi_platform.eventstore import EventStore


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, NAME, ["quanyi_ledger.migrations"])
    p = await db.create_pool(database_url, NAME, 1, 4)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def store() -> EventStore:
    """The ledger's event store, its projections running inline as in the service."""
    return EventStore(NAME, projections=PROJECTIONS)
