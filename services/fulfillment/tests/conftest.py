"""Fulfillment's shared fixtures: its schema migrated into a fresh database, and a pool on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool
from quanyi_fulfillment.bootstrap import NAME, event_store
from quanyi_platform import db
from quanyi_platform.eventstore import EventStore


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    await db.migrate(database_url, NAME, ["quanyi_fulfillment.migrations"])
    p = await db.create_pool(database_url, NAME, 1, 4)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def store() -> EventStore:
    return event_store()
