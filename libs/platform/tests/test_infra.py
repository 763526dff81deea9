"""Real (unmocked) checks of the local infrastructure: Tansu, embedded PostgreSQL, SMTP servers."""

from __future__ import annotations

import asyncio
import logging
import mailbox
import os
import shutil
import smtplib
import socket
import tempfile
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from quanyi_platform.infra import (
    CapturingSmtpServer,
    EmbeddedPostgres,
    MaildirSmtpServer,
    TansuBroker,
    create_database,
    database_url_for,
    drop_database,
    ensure_postgres,
    free_port,
    pg_reachable,
    tansu_binary,
)
from quanyi_platform.infra.ports import ephemeral_range
from quanyi_platform.infra.tansu import kafka_metadata_brokers
from quanyi_platform.testing.fixtures import Broker

# ---------------------------------------------------------------------------------------------- Tansu


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_tansu_produce_consume_then_restart_empty(tmp_path: Path) -> None:
    assert tansu_binary().is_file()
    broker = TansuBroker(log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        assert broker.bootstrap == f"127.0.0.1:{broker.port}"
        topic = f"infra-test-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        finally:
            await admin.close()
        assert topic in await _topics(broker.bootstrap)

        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"hello", key=b"k1", headers=[("h", b"v")])
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=10)
        finally:
            await consumer.stop()
        assert (record.key, record.value, record.partition) == (b"k1", b"hello", meta.partition)
        assert list(record.headers) == [("h", b"v")]

        port, pid = broker.port, broker.pid
        broker.restart_empty()
        assert broker.port == port and broker.pid != pid and broker.running
        assert topic not in await _topics(broker.bootstrap)
    finally:
        broker.stop()
    assert not broker.running
    assert "listening on" in (tmp_path / "tansu.log").read_text()


def test_tansu_refuses_a_port_in_use(tmp_path: Path) -> None:
    with TansuBroker(log_path=tmp_path / "a.log") as first:
        second = TansuBroker(port=first.port, log_path=tmp_path / "b.log")
        with pytest.raises(RuntimeError, match="already listens"):
            second.start()
        assert first.running


def test_broker_fixture_answers_metadata(broker: Broker) -> None:
    host, _, port = broker.bootstrap.rpartition(":")
    assert kafka_metadata_brokers(host, int(port))


# ------------------------------------------------------------------------------------------- Postgres


@pytest.fixture
def pg_base() -> Iterator[Path]:
    # Not tmp_path: that lives under a 0700 directory the server's unprivileged OS user cannot traverse.
    base = Path(tempfile.mkdtemp(prefix="quanyi-infra-test-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_postgres_listens_on_tcp(pg_base: Path) -> None:
    server = EmbeddedPostgres(pg_base / "data")
    assert server.port != 5432
    server.start()
    try:
        assert server.url == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        with psycopg.connect(server.url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT host(inet_server_addr()), inet_server_port(), current_user, 40 + 2"
            ).fetchone()
        assert row == ("127.0.0.1", server.port, "postgres", 42)
        if os.geteuid() == 0:  # PostgreSQL cannot run as root: the data belongs to an unprivileged user
            assert (pg_base / "data").stat().st_uid != 0
            assert server.os_user != "root"
        # A second handle on the same data directory adopts the running server.
        again = EmbeddedPostgres(pg_base / "data", stop_at_exit=False)
        again.start()
        assert again.port == server.port
    finally:
        server.stop()
    assert not server.running
    assert not pg_reachable(server.url)


def test_ensure_postgres_prefers_a_reachable_url(pg_admin_url: str, pg_base: Path) -> None:
    url, embedded = ensure_postgres(pg_admin_url, pg_base / "unused")
    assert (url, embedded) == (pg_admin_url, None)
    assert not (pg_base / "unused").exists()

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    url, embedded = ensure_postgres(dead, pg_base / "data")
    assert embedded is not None
    try:
        assert url == embedded.url and pg_reachable(url)
    finally:
        embedded.stop()


def test_database_fixture_is_a_fresh_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None and name[0].startswith("quanyi_test_")
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)


def test_drop_database_terminates_open_sessions(pg_admin_url: str) -> None:
    name = f"quanyi_test_{uuid.uuid4().hex[:16]}"
    create_database(pg_admin_url, name)
    create_database(pg_admin_url, name, exist_ok=True)
    url = database_url_for(pg_admin_url, name)
    conn = psycopg.connect(url, autocommit=True)
    try:
        conn.execute("CREATE TABLE t (x int)")
        drop_database(pg_admin_url, name)
    finally:
        conn.close()
    assert not pg_reachable(url)
    drop_database(pg_admin_url, name)  # already gone: no error


def test_database_url_for() -> None:
    assert (
        database_url_for("postgresql://u:p@h:5433/postgres?sslmode=disable&dbname=x", "quanyi_x")
        == "postgresql://u:p@h:5433/quanyi_x?sslmode=disable"
    )
    assert "dbname=quanyi_x" in database_url_for("host=h port=5433 dbname=postgres", "quanyi_x")
    with pytest.raises(ValueError):
        database_url_for("postgresql://h/postgres", 'x"; DROP DATABASE y; --')


# ----------------------------------------------------------------------------------------------- SMTP


def _mail(subject: str, body: str = "Your card key is ABCD-1234") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "shop@quanyi.test"
    msg["To"] = "buyer@example.test"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def _send(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(msg)


def test_capturing_smtp_server(smtp_server: CapturingSmtpServer) -> None:
    _send(smtp_server.port, _mail("first"))
    _send(smtp_server.port, _mail("second"))
    got = smtp_server.wait_for(lambda m: m["Subject"] == "second", timeout=5)
    assert got["To"] == "buyer@example.test"
    assert got.get_content().strip() == "Your card key is ABCD-1234"
    assert [m["Subject"] for m in smtp_server.messages] == ["first", "second"]
    assert smtp_server.deliveries[0].rcpt_tos == ("buyer@example.test",)
    with pytest.raises(TimeoutError):
        smtp_server.wait_for(lambda m: m["Subject"] == "never", timeout=0.2)


async def test_capturing_smtp_wait_for_async_does_not_block_the_loop(
    smtp_server: CapturingSmtpServer,
) -> None:
    waiter = asyncio.create_task(smtp_server.wait_for_async(lambda m: m["Subject"] == "later", timeout=5))
    await asyncio.sleep(0.05)
    await asyncio.to_thread(_send, smtp_server.port, _mail("later"))
    assert (await waiter)["Subject"] == "later"


def test_maildir_smtp_server_writes_a_file_and_never_logs_bodies(tmp_path: Path) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    mail_log = logging.getLogger("mail.log")
    old_level = mail_log.level
    mail_log.addHandler(handler)
    mail_log.setLevel(logging.DEBUG)
    server = MaildirSmtpServer(tmp_path / "Maildir")
    server.start()
    try:
        _send(server.port, _mail("stored", body="secret-body-7f3a"))
    finally:
        server.stop()
        mail_log.removeHandler(handler)
        mail_log.setLevel(old_level)
    files = list((tmp_path / "Maildir" / "new").iterdir())
    assert len(files) == 1
    assert b"secret-body-7f3a" in files[0].read_bytes()
    stored = list(mailbox.Maildir(tmp_path / "Maildir", create=False))
    assert [m["Subject"] for m in stored] == ["stored"]
    assert records, "aiosmtpd logged nothing at DEBUG: the check below would prove nothing"
    assert not any("secret-body-7f3a" in r.getMessage() for r in records)


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    low, _ = ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(1024 < p < low for p in ports)
    with socket.socket() as sock:  # each one can be listened on
        sock.bind(("127.0.0.1", ports[0]))
        sock.listen()
