"""Starting quanyi's six services as separate processes, for `quanyi dev` and end-to-end tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from quanyi_platform import rpc
from quanyi_platform.identity import new_token
from quanyi_platform.infra.ports import free_port

SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk", "gateway")
GRPC_SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk")
_COLOURS = {"orders": 33, "inventory": 36, "fulfillment": 35, "ledger": 32, "risk": 31, "gateway": 34}


@dataclass
class StackConfig:
    """Where the shared infrastructure is and which ports the services take."""

    database_url: str
    kafka_bootstrap: str
    smtp_port: int
    data_dir: Path
    psp_private_key: Path
    psp_public_key: Path
    gateway_port: int = 8000
    grpc_ports: dict[str, int] = field(default_factory=dict)
    environment: str = "development"
    extra_env: dict[str, str] = field(default_factory=dict)
    # The development credential the simulators ask for (X-Dev-Credential); development and test
    # stacks turn the simulators on with it.
    dev_credential: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Each service connects as its own Postgres role (quanyi_platform.roles): `start()` provisions the
    # roles with `database_url`, which stays the operator's (admin) URL. Off, every service uses it.
    service_roles: bool = True
    # Each service's development identity (quanyi_platform.identity): its own token, which it sends on its
    # gRPC calls; inventory gets them all, to know who asks to reveal a key. Production uses mTLS.
    service_tokens: dict[str, str] = field(
        default_factory=lambda: {name: new_token() for name in (*GRPC_SERVICES, "gateway")}
    )

    @classmethod
    def with_free_ports(cls, **kwargs: object) -> StackConfig:
        cfg = cls(**kwargs)  # type: ignore[arg-type]
        cfg.gateway_port = free_port()
        cfg.grpc_ports = {name: free_port() for name in (*GRPC_SERVICES, "gateway")}
        return cfg

    def port_of(self, name: str) -> int:
        defaults = {
            "orders": 50051, "inventory": 50052, "fulfillment": 50053, "ledger": 50054, "risk": 50055,
            "gateway": 50056,  # its internal gRPC (BuyerContactsService); its HTTP is gateway_port
        }
        return self.grpc_ports.get(name, defaults[name])

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def env(self) -> dict[str, str]:
        env = {
            "QUANYI_ENVIRONMENT": self.environment,
            "QUANYI_DATABASE_URL": self.database_url,
            "QUANYI_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "QUANYI_SMTP_HOST": "127.0.0.1",
            "QUANYI_SMTP_PORT": str(self.smtp_port),
            "QUANYI_PSP_PUBLIC_KEY_PATH": str(self.psp_public_key),
            "QUANYI_PSP_SIM_PRIVATE_KEY_PATH": str(self.psp_private_key),
            "QUANYI_PUBLIC_BASE_URL": self.gateway_url,
            "QUANYI_GATEWAY_LISTEN": f"127.0.0.1:{self.gateway_port}",
        }
        if self.environment in ("development", "test"):
            env["QUANYI_SIMULATORS_ENABLED"] = "true"
            env["QUANYI_DEV_CREDENTIAL"] = self.dev_credential
        for name in (*GRPC_SERVICES, "gateway"):
            addr = f"127.0.0.1:{self.port_of(name)}"
            env[f"QUANYI_{name.upper()}_GRPC"] = addr
            env[f"QUANYI_{name.upper()}_GRPC_LISTEN"] = addr
        env.update(self.extra_env)
        return env

    def service_env(self, name: str) -> dict[str, str]:
        """`env()` with the database URL `name` connects with: its own role's, unless roles are off."""
        env = self.env()
        if self.service_roles and "QUANYI_DATABASE_URL" not in self.extra_env:
            from quanyi_platform.roles import role_url

            env["QUANYI_DATABASE_URL"] = role_url(self.database_url, name)
        if name in self.service_tokens:
            env["QUANYI_SERVICE_TOKEN"] = self.service_tokens[name]
        if name == "inventory":
            env["QUANYI_INVENTORY_SERVICE_TOKENS"] = json.dumps(self.service_tokens)
        return env


class Stack:
    """The six service processes. Each one's output goes to `<data_dir>/logs/<name>.log`, and, when
    `echo` is set, to this process's stdout prefixed with the service's name."""

    def __init__(self, config: StackConfig, echo: bool = False) -> None:
        self.config = config
        self.echo = echo
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._pumps: list[threading.Thread] = []
        self.log_dir = config.data_dir / "logs"

    def start(self, names: tuple[str, ...] = SERVICES) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.provision()
        for name in names:
            self.start_one(name)

    def provision(self) -> None:
        """Create the services' roles and schemas and migrate them (quanyi_platform.roles.provision)."""
        if not self.config.service_roles:
            return
        from quanyi_platform.roles import provision

        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callers may be inside an event loop
            pool.submit(asyncio.run, provision(self.config.database_url)).result()

    def start_one(self, name: str, env: Mapping[str, str] | None = None) -> None:
        env = env or {**os.environ, **self.config.service_env(name)}
        proc = subprocess.Popen(
            [sys.executable, "-m", f"quanyi_{name}"],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        assert proc.stdout is not None
        log = (self.log_dir / f"{name}.log").open("ab")
        pump = threading.Thread(target=self._pump, args=(name, proc.stdout, log), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def _pump(self, name: str, stream: IO[bytes], log: IO[bytes]) -> None:
        prefix = (
            f"\x1b[{_COLOURS[name]}m{name:>11}\x1b[0m | ".encode()
            if sys.stdout.isatty()
            else f"{name:>11} | ".encode()
        )
        with log:
            for line in iter(stream.readline, b""):
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.buffer.write(prefix + line)
                    sys.stdout.buffer.flush()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every gRPC service reports itself ready (its consumers have joined their groups) and
        the gateway's /readyz agrees; fail early if a process died."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                    )
            waiting = [n for n in GRPC_SERVICES if n in self.procs and not self._grpc_ready(n)]
            if waiting:
                last = f"not ready yet: {', '.join(waiting)}"
                time.sleep(0.3)
                continue
            try:
                r = httpx.get(f"{self.config.gateway_url}/readyz", timeout=2.0)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise TimeoutError(f"services not ready after {timeout}s: {last}")

    def _grpc_ready(self, name: str) -> bool:
        with grpc.insecure_channel(f"127.0.0.1:{self.config.port_of(name)}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=rpc.READY), timeout=2.0
                )
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def stop_one(self, name: str, kill: bool = False) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        for pump in self._pumps:
            pump.join(timeout=2)
