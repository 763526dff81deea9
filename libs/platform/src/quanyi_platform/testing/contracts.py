"""Contract suites for the platform's ports: one suite, run against the Postgres adapter and the fake.

Subclass a suite in a test module and provide the `uow_factory` fixture (a callable returning a fresh
unit of work over the same store each time) and `committed_versions` (what the store holds).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from quanyi.orders.v1 import events_pb2 as orders_events

from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.uow import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
Versions = Callable[[str], Awaitable[list[int]]]


def _event(order_id: str, version: int) -> NewEvent:
    return NewEvent("Order", order_id, version, orders_events.OrderCancelled(order_id=order_id, reason="t"))


class EventLogContract:
    """What every EventLog + UnitOfWork pair guarantees."""

    async def test_events_appended_and_committed_are_kept_in_order(
        self, uow_factory: UowFactory, committed_versions: Versions
    ) -> None:
        async with uow_factory() as uow:
            await uow.events.append([_event("a", 1), _event("a", 2)])
            await uow.events.append([_event("a", 3)])
            await uow.commit()
        assert await committed_versions("a") == [1, 2, 3]

    async def test_a_unit_of_work_left_without_commit_keeps_nothing(
        self, uow_factory: UowFactory, committed_versions: Versions
    ) -> None:
        async with uow_factory() as uow:
            await uow.events.append([_event("b", 1)])
        assert await committed_versions("b") == []

    async def test_a_version_appended_twice_is_a_conflict_and_keeps_nothing_of_its_unit(
        self, uow_factory: UowFactory, committed_versions: Versions
    ) -> None:
        async with uow_factory() as uow:
            await uow.events.append([_event("c", 1)])
            await uow.commit()
        with pytest.raises(ConcurrencyConflict):
            async with uow_factory() as uow:
                await uow.events.append([_event("d", 1)])
                await uow.events.append([_event("c", 1)])
                await uow.commit()
        assert await committed_versions("c") == [1]
        assert await committed_versions("d") == []

    async def test_the_same_version_twice_in_one_append_is_a_conflict(
        self, uow_factory: UowFactory, committed_versions: Versions
    ) -> None:
        with pytest.raises(ConcurrencyConflict):
            async with uow_factory() as uow:
                await uow.events.append([_event("e", 1), _event("e", 1)])
                await uow.commit()
        assert await committed_versions("e") == []
