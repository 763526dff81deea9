"""`quanyi`: the operator's command line."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from psycopg import connect
from quanyi_platform.history import summary
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from quanyi_cli import coupons as coupons_cli
from quanyi_cli import deliver as deliver_cli
from quanyi_cli import keys as keys_cli
from quanyi_cli import operators as operators_cli
from quanyi_cli import ops as ops_cli
from quanyi_cli.config import CliSettings
from quanyi_cli.stack import SERVICES, Stack, StackConfig

app = typer.Typer(
    help="Operate quanyi: run it locally, migrate, import keys, follow an order.", no_args_is_help=True
)
console = Console()
app.add_typer(keys_cli.app, name="keys")
app.add_typer(ops_cli.app, name="ops")
app.add_typer(operators_cli.app, name="operators")
app.add_typer(coupons_cli.app, name="coupons")
app.command("deliver")(deliver_cli.deliver)


@app.command()
def dev(
    data_dir: Annotated[
        Path, typer.Option(help="Where embedded Postgres, logs, mail and dev keys live.")
    ] = Path(".data"),
    gateway_port: Annotated[int, typer.Option(help="The gateway's HTTP port.")] = 8000,
) -> None:
    """Start the broker, Postgres (QUANYI_DATABASE_URL or embedded), dev SMTP and all six services."""
    from quanyi_platform.infra.ports import free_port, port_open
    from quanyi_platform.infra.postgres import create_database, database_url_for, ensure_postgres
    from quanyi_platform.infra.smtp import MaildirSmtpServer
    from quanyi_platform.infra.tansu import TansuBroker

    settings = CliSettings()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.database_url_or_none and os.geteuid() == 0:
        _say_what_root_changes(data_dir)
    admin_url, embedded = ensure_postgres(settings.database_url_or_none, data_dir / "postgres")
    if settings.database_url_or_none:
        database_url = admin_url
    else:
        create_database(admin_url, "quanyi", exist_ok=True)
        database_url = database_url_for(admin_url, "quanyi")
    broker = TansuBroker(
        9092 if not port_open("127.0.0.1", 9092) else free_port(), log_path=data_dir / "logs" / "tansu.log"
    )
    (data_dir / "logs").mkdir(exist_ok=True)
    broker.start()
    smtp = MaildirSmtpServer(data_dir / "mail", port=8025 if not port_open("127.0.0.1", 8025) else None)
    smtp.start()
    private_key, public_key = _psp_keys(data_dir / "psp-sim")
    if port_open("127.0.0.1", gateway_port):
        gateway_port = free_port()
    config = StackConfig(
        database_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        smtp_port=smtp.port,
        data_dir=data_dir,
        psp_private_key=private_key,
        psp_public_key=public_key,
        gateway_port=gateway_port,
        grpc_ports=dev_grpc_ports(),
    )
    env_file = data_dir / "quanyi.env"
    env_file.write_text(
        f"QUANYI_DATABASE_URL={database_url}\nQUANYI_KAFKA_BOOTSTRAP={broker.bootstrap}\n"
        f"QUANYI_GATEWAY_URL={config.gateway_url}\nQUANYI_DEV_CREDENTIAL={config.dev_credential}\n"
        f"QUANYI_LEDGER_GRPC=127.0.0.1:{config.grpc_ports['ledger']}\n"
    )
    env_file.chmod(0o600)  # it holds the development credential
    stack = Stack(config, echo=True)
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
        stack.wait_ready(timeout=90)
        console.print(
            f"\n[bold green]quanyi is running[/]: gateway {config.gateway_url}"
            f" (API docs {config.gateway_url}/docs)\n"
            f"  web: storefront {config.gateway_url}/ · user centre {config.gateway_url}/me"
            f" · back office {config.gateway_url}/admin\n"
            f"  gRPC {' · '.join(f'{n} :{p}' for n, p in config.grpc_ports.items())}\n"
            f"  broker {broker.bootstrap} · Postgres {_safe(database_url)} · SMTP 127.0.0.1:{smtp.port}"
            f" (mail in {data_dir / 'mail'}) · logs in {data_dir / 'logs'}\n  Ctrl-C stops everything.\n"
        )
        while not stopping:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    console.print(f"[red]{name} exited ({proc.returncode}); restarting[/]")
                    stack.start_one(name)
            time.sleep(0.5)
    finally:
        console.print("stopping…")
        env_file.unlink(missing_ok=True)
        stack.stop()
        smtp.stop()
        broker.stop()
        if embedded is not None:
            embedded.stop()


# Below the kernel's ephemeral port range (32768 and up on Linux), unlike gRPC's customary 50051: a port
# from that range can be taken, as the local end of some outgoing connection, just before a service binds.
DEV_GRPC_PORTS = {
    "orders": 25051, "inventory": 25052, "fulfillment": 25053, "ledger": 25054, "risk": 25055,
    "gateway": 25056,  # the gateway's internal gRPC (buyers' contacts); its HTTP is --gateway-port
}


def dev_grpc_ports() -> dict[str, int]:
    """The dev gRPC ports, or a free port for any that something else holds."""
    from quanyi_platform.infra.ports import free_port, port_open

    return {
        name: free_port() if port_open("127.0.0.1", port) else port for name, port in DEV_GRPC_PORTS.items()
    }


def _psp_keys(directory: Path) -> tuple[Path, Path]:
    from quanyi_gateway.psp_sim import generate_keypair

    private, public = directory / "psp-sim-private.pem", directory / "psp-sim-public.pem"
    if private.exists() and public.exists():
        return private, public
    return generate_keypair(directory)


def _say_what_root_changes(data_dir: Path) -> None:
    """PostgreSQL refuses to run as root: say what the embedded one changes outside the repository."""
    import logging

    console.print(
        "[yellow]Running as root with the embedded PostgreSQL[/], which refuses to run as root. quanyi dev "
        "runs it as an unprivileged OS user: the owner of an existing data directory, else "
        "$QUANYI_PG_OS_USER, else 'postgres', else a system account 'quanyi-pg' it creates (no home, no "
        f"login). It hands that user {data_dir / 'postgres'} and, only where that user cannot reach it "
        "otherwise, adds the traverse bit (o+x, never read) to the directories above it; each change is "
        "printed below. To change nothing outside the repository, run as an ordinary user or set "
        "QUANYI_DATABASE_URL to a Postgres of your own."
    )
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("  %(message)s"))
    pg_log = logging.getLogger("quanyi_platform.infra.postgres")
    pg_log.addHandler(handler)
    pg_log.setLevel(logging.WARNING)


def _safe(url: str) -> str:
    from quanyi_platform.infra.postgres import describe_url

    return describe_url(url)


@app.command()
def migrate(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: the migrations applied, per service.")
    ] = False,
) -> None:
    """Create or upgrade every service's schema in QUANYI_DATABASE_URL, each owned by the service's own role.

    QUANYI_DATABASE_URL must name a superuser (or a role with CREATEROLE): this creates the login roles
    quanyi_<service> (each reaches its own schema only) and quanyi_ledger_journal (owns the ledger's
    append-only journal; nobody logs in as it), applies each service's migrations as its role, and hands the
    journal to its owner. Services then connect with their role's URL (same host and database, user
    quanyi_<service>). Safe to run again at any time.
    """
    import json

    from quanyi_platform.roles import ProvisionError, provision, role_for

    settings = CliSettings()
    try:
        applied = asyncio.run(provision(settings.database_url))
    except ProvisionError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({"applied": applied, "roles": {name: role_for(name) for name in applied}}))
        return
    for name in SERVICES:
        console.print(f"{name}: {len(applied.get(name, []))} migration(s) applied, role {role_for(name)}")


@app.command()
def trace(
    order_id: Annotated[str, typer.Argument(help="The order (correlation id) to follow.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event, with its whole payload.")
    ] = False,
) -> None:
    """Follow one order: every event any service recorded for it, in time order."""
    import json

    from google.protobuf.json_format import MessageToDict
    from quanyi_platform.envelope import open_envelope

    settings = CliSettings()
    if not settings.database_url:
        console.print("[red]set QUANYI_DATABASE_URL, or start `quanyi dev` in this directory[/]")
        raise typer.Exit(2)
    rows: list[tuple[Any, str, str, bool, dict[str, Any]]] = []
    with connect(settings.database_url) as conn:
        for name in SERVICES:
            exists = conn.execute("SELECT to_regclass(%s)", (f"{name}.events",)).fetchone()
            if not exists or exists[0] is None:
                continue
            for occurred_at, envelope, published in conn.execute(
                f"SELECT occurred_at, envelope, seq <= (SELECT coalesce(max(published_through), 0)"
                f" FROM {name}.relay_state) FROM {name}.events WHERE correlation_id = %s ORDER BY seq",
                (order_id,),
            ):
                env, payload = open_envelope(bytes(envelope))
                body = MessageToDict(payload) if payload is not None else {}
                rows.append((occurred_at, name, env.type.rsplit(".", 1)[-1], bool(published), body))
    if not rows:
        console.print(f"no events for {order_id}")
        raise typer.Exit(1)
    rows.sort(key=lambda r: r[0])
    if as_json:
        for occurred_at, name, kind, published, body in rows:
            line = {"at": occurred_at.isoformat(), "service": name, "event": kind, "published": published}
            print(json.dumps({**line, "payload": body}, ensure_ascii=False))
        return
    table = Table("when (UTC)", "service", "event", "", "details", title=f"order {order_id}")
    for occurred_at, name, kind, published, body in rows:
        when = occurred_at.strftime("%H:%M:%S.%f")[:-3]
        table.add_row(when, name, kind, "✓" if published else "…", summary(body, order_id))
    console.print(table)
    console.print("✓ published to the broker · … not yet published · --json for whole payloads")


REPLAYABLE = ("orders", "inventory", "fulfillment", "ledger", "risk")


def _database_url() -> str:
    settings = CliSettings()
    if not settings.database_url:
        console.print("[red]set QUANYI_DATABASE_URL, or start `quanyi dev` in this directory[/]")
        raise typer.Exit(2)
    return settings.database_url


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help=f"The service: {', '.join(REPLAYABLE)}.")],
    projection: Annotated[
        list[str] | None, typer.Option("--projection", "-p", help="Only this projection (repeatable).")
    ] = None,
    source: Annotated[
        str, typer.Option(help="Read the events from the service's event 'store' or from its Kafka 'topic'.")
    ] = "store",
    check: Annotated[
        bool, typer.Option("--verify", help="Compare the rebuilt tables with live (rows and content hash).")
    ] = False,
    swap_in: Annotated[
        bool, typer.Option("--swap", help="Replace the live tables with the rebuilt ones, atomically.")
    ] = False,
    keep: Annotated[bool, typer.Option(help="Keep the shadow schema <service>__replay afterwards.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    kafka_bootstrap: Annotated[
        str, typer.Option(envvar="QUANYI_KAFKA_BOOTSTRAP", help="The broker, for --source topic.")
    ] = "",
) -> None:
    """Rebuild a service's projections from its events into a shadow schema; verify; swap them in live.

    The service may keep running: events that arrive during the rebuild are caught up before the
    comparison and inside the swap's lock. Exits 1 when --verify finds a difference."""
    import json

    from quanyi_platform.replay import (
        ReplayError,
        ServiceProjections,
        digest_of,
        drop_shadow,
        rebuild,
        swap,
        verify,
    )

    if service not in REPLAYABLE:
        names = ", ".join(REPLAYABLE)
        console.print(f"[red]{service} has no projections to replay; choose one of {names}[/]")
        raise typer.Exit(2)
    if source not in ("store", "topic"):
        console.print("[red]--source is 'store' or 'topic'[/]")
        raise typer.Exit(2)
    database_url = _database_url()
    bootstrap = kafka_bootstrap or CliSettings().kafka_bootstrap
    if source == "topic" and not bootstrap:
        console.print("[red]--source topic needs the broker: QUANYI_KAFKA_BOOTSTRAP or --kafka-bootstrap[/]")
        raise typer.Exit(2)

    async def run() -> dict[str, Any]:
        spec = ServiceProjections.of(service, projection or ())
        with Progress(
            TextColumn(f"replaying {service} from the {source}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9,.0f} events/s"), TimeRemainingColumn(),
            console=console if not as_json else Console(stderr=True), transient=as_json,
        ) as bar:
            task = bar.add_task("events", total=None, rate=0.0)
            started = time.perf_counter()

            def progress(done: int, total: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-6)
                bar.update(task, completed=done, total=total, rate=rate)

            rebuilt = await rebuild(
                database_url, spec, source=source, kafka_bootstrap=bootstrap, progress=progress
            )
        out: dict[str, Any] = {
            "service": service, "source": source, "projections": [p.name for p in spec.projections],
            "events": rebuilt.events, "seconds": round(rebuilt.seconds, 3),
            "events_per_s": round(rebuilt.events_per_s, 1),
        }
        try:
            comparison = None
            if check or swap_in:
                comparison = await verify(database_url, rebuilt)
                out["verify_seconds"] = round(time.perf_counter() - started - rebuilt.seconds, 3)
            if swap_in:
                comparison = await swap(database_url, rebuilt)
                out["swapped"] = True
            if comparison is not None:
                out["equal"] = comparison.equal
                out["digest"] = digest_of(comparison)
                out["tables"] = [
                    {"table": t.table, "live_rows": t.live_rows, "rebuilt_rows": t.shadow_rows,
                     "equal": t.equal, "only_live": list(t.only_live), "only_rebuilt": list(t.only_shadow)}
                    for t in comparison.tables
                ]
        finally:
            if not keep:
                await drop_shadow(database_url, spec)
        return out

    try:
        out = asyncio.run(run())
    except ReplayError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        console.print(
            f"{out['events']:,} events in {out['seconds']:.2f} s:"
            f" [bold]{out['events_per_s']:,.0f} events/s[/]"
        )
        if "tables" in out:
            table = Table("table", "live rows", "rebuilt rows", "", title=f"{service}: rebuilt vs live")
            for t in out["tables"]:
                table.add_row(t["table"], f"{t['live_rows']:,}", f"{t['rebuilt_rows']:,}",
                              "[green]equal[/]" if t["equal"] else "[red]DIFFERENT[/]")
            console.print(table)
            for t in out["tables"]:
                for r in t["only_live"]:
                    console.print(f"  {t['table']} only live:    {r}")
                for r in t["only_rebuilt"]:
                    console.print(f"  {t['table']} only rebuilt: {r}")
        if out.get("swapped"):
            console.print("[green]swapped: live now holds the rebuilt tables[/]")
    if out.get("equal") is False and not out.get("swapped"):
        raise typer.Exit(1)


@app.command()
def history(
    subject: Annotated[str, typer.Argument(help="An order id or a key id.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="An instant (ISO 8601; UTC when no offset is given).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """An order's or a key's state at any instant, folded from every service's events, with the causal
    chain (what happened, what caused it, when)."""
    import json
    from datetime import UTC, datetime

    from quanyi_platform.history import HistoryEvent, fold

    instant = None
    if as_of:
        try:
            instant = datetime.fromisoformat(as_of)
        except ValueError as exc:
            console.print(f"[red]--as-of must be ISO 8601, like 2026-11-30T19:00:00Z, not {as_of!r}[/]")
            raise typer.Exit(2) from exc
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
    events = _history_events(_database_url(), subject)
    if not events:
        console.print(f"no events name {subject}")
        raise typer.Exit(1)
    result = fold(subject, [HistoryEvent(**e) for e in events], instant)
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False, default=str))
        return
    when = f" as of {instant.isoformat()}" if instant else ""
    facts = " · ".join(f"{k}={v}" for k, v in result.facts.items() if v)
    console.print(
        f"[bold]{result.kind} {subject}[/]{when}: [bold]{result.state}[/]" + (f"  ({facts})" if facts else "")
    )
    table = Table("when (UTC)", "service", "event (indented under its cause)", "details")
    for depth, e, _cause in result.chain():
        table.add_row(
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], e.service,
            "  " * depth + ("└ " if depth else "") + e.short_type, summary(e.payload, subject),
        )
    console.print(table)


def _history_events(database_url: str, subject: str) -> list[dict[str, Any]]:
    """Events of every service correlated with `subject` or naming it anywhere (a key; a ledger batch that
    posted an order's entries among others'), each once."""
    from google.protobuf.json_format import MessageToDict
    from quanyi_platform.envelope import open_envelope

    found: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    with connect(database_url) as conn:
        schemas = [
            n for n in SERVICES
            if (row := conn.execute("SELECT to_regclass(%s)", (f"{n}.events",)).fetchone()) and row[0]
        ]
        for by_bytes in (False, True):
            for name in schemas:
                where = "position(%s::bytea in envelope) > 0" if by_bytes else "correlation_id = %s"
                arg: Any = subject.encode() if by_bytes else subject
                for seq, envelope, occurred_at in conn.execute(
                    f"SELECT seq, envelope, occurred_at FROM {name}.events WHERE {where} ORDER BY seq", (arg,)
                ):
                    if (name, seq) in seen:
                        continue
                    seen.add((name, seq))
                    env, payload = open_envelope(bytes(envelope))
                    found.append({
                        "service": name, "seq": seq, "event_id": env.event_id, "type": env.type,
                        "aggregate_type": env.aggregate_type, "aggregate_id": env.aggregate_id,
                        "correlation_id": env.correlation_id, "causation_id": env.causation_id,
                        "occurred_at": occurred_at,
                        "payload": MessageToDict(payload) if payload is not None else {},
                    })
    return found


@app.command("import-keys")
def import_keys(
    pool_id: Annotated[str, typer.Argument(help="The key pool to fill.")],
    file: Annotated[
        Path, typer.Argument(exists=True, readable=True, help="CSV with a header: code[,password].")
    ],
    unit_cost_minor: Annotated[int, typer.Option(help="What each key cost, in minor units (fen).")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
    gateway: Annotated[
        str, typer.Option(envvar="QUANYI_GATEWAY_URL", help="The gateway's base URL.")
    ] = "http://127.0.0.1:8000",
    token: Annotated[str, typer.Option(envvar="QUANYI_ADMIN_TOKEN", help="An admin bearer token.")] = "",
    chunk_rows: Annotated[int, typer.Option(help="Rows per upload.")] = 20_000,
) -> None:
    """Import a CSV of card keys through the gateway in chunks, with progress; keys are never printed."""
    with file.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or "code" not in [h.strip().lower() for h in header]:
            console.print("[red]the file needs a header row with a 'code' column[/]")
            raise typer.Exit(2)
        rows = list(reader)
    totals = {"imported": 0, "duplicates": 0, "rejected": 0}
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as bar:
        task = bar.add_task("keys", total=len(rows))
        with httpx.Client(
            base_url=gateway, headers={"Authorization": f"Bearer {token}"}, timeout=300
        ) as client:
            for start in range(0, len(rows), chunk_rows):
                buf = io.StringIO()
                writer = csv.writer(buf)
                writer.writerow(header)
                writer.writerows(rows[start : start + chunk_rows])
                r = client.post(
                    f"/v1/admin/pools/{pool_id}/imports",
                    files={"file": ("keys.csv", buf.getvalue().encode(), "text/csv")},
                    data={"unit_cost_minor": str(unit_cost_minor), "currency": currency},
                )
                if r.status_code >= 400:
                    console.print(
                        f"[red]import failed at row {start + 2}: {r.json().get('detail', r.text)}[/]"
                    )
                    raise typer.Exit(1)
                body = r.json()
                totals["imported"] += body["imported"]
                totals["duplicates"] += body["duplicates"]
                totals["rejected"] += len(body["rejected"])
                bar.advance(task, min(chunk_rows, len(rows) - start))
    console.print(
        f"imported {totals['imported']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}"
    )


# Finance: `quanyi ledger ...`, `quanyi report ...` and `quanyi audit key|order ...` (issue 9).
from quanyi_cli import audit as audit_cli  # noqa: E402
from quanyi_cli import ledger as ledger_cli  # noqa: E402
from quanyi_cli import report as report_cli  # noqa: E402

app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(report_cli.app, name="report")
app.add_typer(audit_cli.app, name="audit")
