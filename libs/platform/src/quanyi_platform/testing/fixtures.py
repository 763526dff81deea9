"""pytest plugin with quanyi's infrastructure fixtures.

Enable it with ``pytest_plugins = ["quanyi_platform.testing.fixtures"]`` in the root conftest.py.

- ``broker`` (session): a Kafka-protocol broker. With a Docker engine and the ``testcontainers`` package,
  a Kafka container; otherwise Tansu on a free port (``.restart_empty()`` available). Force one with
  ``QUANYI_TEST_BROKER=tansu`` or ``QUANYI_TEST_BROKER=testcontainers``.
- ``pg_admin_url`` (session): a superuser URL to a maintenance database, from
  ``QUANYI_TEST_ADMIN_DATABASE_URL``, else a local server on 127.0.0.1:5432, else a testcontainers
  PostgreSQL, else an embedded server in a temporary directory.
- ``database_url`` (function): a fresh database ``quanyi_test_<hex>``, dropped after the test.
- ``smtp_server`` (function): a started ``CapturingSmtpServer``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from quanyi_platform.infra.postgres import (
    EmbeddedPostgres,
    create_database,
    database_url_for,
    describe_url,
    drop_database,
    pg_reachable,
)
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.infra.tansu import TansuBroker

__all__ = [
    "DEFAULT_ADMIN_URL",
    "Broker",
    "ContainerKafkaBroker",
    "broker",
    "database_url",
    "docker_available",
    "pg_admin_url",
    "smtp_server",
]

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.1"
POSTGRES_IMAGE = "postgres:16-alpine"


class Broker(Protocol):
    """What the ``broker`` fixture yields. Tansu brokers also have ``restart_empty()``."""

    kind: str

    @property
    def bootstrap(self) -> str: ...


class ContainerKafkaBroker:
    """A testcontainers Kafka container seen through the ``Broker`` interface."""

    kind = "kafka"

    def __init__(self, container: Any) -> None:
        self._container = container
        self._bootstrap = str(container.get_bootstrap_server())

    @property
    def bootstrap(self) -> str:
        return self._bootstrap


@functools.cache
def docker_available() -> bool:
    """True when ``testcontainers`` is importable and a Docker engine answers ``docker info``."""
    if importlib.util.find_spec("testcontainers") is None or shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    choice = os.environ.get("QUANYI_TEST_BROKER", "auto").strip().lower()
    if choice not in {"auto", "tansu", "testcontainers"}:
        raise ValueError(f"QUANYI_TEST_BROKER must be auto, tansu or testcontainers, not {choice!r}")
    if choice == "testcontainers" or (choice == "auto" and docker_available()):
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer(KAFKA_IMAGE)
        container.start()
        try:
            yield ContainerKafkaBroker(container)
        finally:
            container.stop()
        return
    tansu = TansuBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
    tansu.start()
    try:
        yield tansu
    finally:
        tansu.stop()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    configured = os.environ.get("QUANYI_TEST_ADMIN_DATABASE_URL")
    if configured:
        if not pg_reachable(configured):
            raise RuntimeError(
                f"QUANYI_TEST_ADMIN_DATABASE_URL ({describe_url(configured)}) is set but not reachable"
            )
        yield configured
        return
    if pg_reachable(DEFAULT_ADMIN_URL):
        yield DEFAULT_ADMIN_URL
        return
    if docker_available():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(
            POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
        )
        container.start()
        try:
            yield str(container.get_connection_url())
        finally:
            container.stop()
        return
    # The embedded server runs as an unprivileged OS user when we are root: give it a directory it can
    # traverse (mkdtemp makes 0700 ones, and pytest's tmp_path lives under a 0700 directory).
    base = Path(tempfile.mkdtemp(prefix="quanyi-test-pg-"))
    base.chmod(0o711)
    server = EmbeddedPostgres(
        base / "data",
        settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    name = f"quanyi_test_{uuid.uuid4().hex[:16]}"
    create_database(pg_admin_url, name)
    try:
        yield database_url_for(pg_admin_url, name)
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def smtp_server() -> Iterator[CapturingSmtpServer]:
    server = CapturingSmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
