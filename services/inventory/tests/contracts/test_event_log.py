"""The platform's EventLog / UnitOfWork contract, on inventory's units of work."""

from __future__ import annotations

import pytest
from quanyi_platform.testing.contracts import EventLogContract, UowFactory, Versions

from .conftest import Backend


class TestInventoryEventLog(EventLogContract):
    @pytest.fixture
    def uow_factory(self, backend: Backend) -> UowFactory:
        return backend.uow

    @pytest.fixture
    def committed_versions(self, backend: Backend) -> Versions:
        return backend.committed_versions
