"""`quanyi`: the operator's command line."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from psycopg import connect
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from quanyi_cli.config import CliSettings
from quanyi_cli.stack import SERVICES, Stack, StackConfig

app = typer.Typer(
    help="Operate quanyi: run it locally, migrate, import keys, follow an order.", no_args_is_help=True
)
console = Console()


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
        f"QUANYI_GATEWAY_URL={config.gateway_url}\n"
    )
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
DEV_GRPC_PORTS = {"orders": 25051, "inventory": 25052, "fulfillment": 25053, "ledger": 25054, "risk": 25055}


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


def _safe(url: str) -> str:
    from quanyi_platform.infra.postgres import describe_url

    return describe_url(url)


@app.command()
def migrate() -> None:
    """Create or upgrade every service's schema in QUANYI_DATABASE_URL."""
    from quanyi_platform import db

    settings = CliSettings()

    async def run() -> None:
        for name in SERVICES:
            applied = await db.migrate(settings.database_url, name, [f"quanyi_{name}.migrations"])
            console.print(f"{name}: {len(applied)} migration(s) applied")

    asyncio.run(run())


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
            for occurred_at, envelope, published_at in conn.execute(
                f"SELECT occurred_at, envelope, published_at FROM {name}.events"
                " WHERE correlation_id = %s ORDER BY seq",
                (order_id,),
            ):
                env, payload = open_envelope(bytes(envelope))
                body = MessageToDict(payload) if payload is not None else {}
                rows.append((occurred_at, name, env.type.rsplit(".", 1)[-1], published_at is not None, body))
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


_ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})


def money_text(minor: int, currency: str) -> str:
    """Minor units as a decimal amount, for people: (1990, 'CNY') -> '19.90 CNY'."""
    if currency in _ZERO_DECIMAL:
        return f"{minor} {currency}"
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d} {currency}"


def summary(body: dict[str, Any], order_id: str = "") -> str:
    """A payload on one line: money as '19.90 CNY', lists by their length, the order's own id left out."""
    parts = []
    for key, value in body.items():
        if value == order_id:
            continue
        if isinstance(value, dict) and set(value) == {"minorUnits", "currency"}:
            text = money_text(int(value["minorUnits"]), value["currency"])
        elif isinstance(value, list):
            text = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        elif isinstance(value, dict):
            text = "{…}"
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


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
