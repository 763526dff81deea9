"""`quanyi keys`: card-key pools at scale, through the gateway's admin API.

`import` streams a key file (CSV, TSV, XLSX or one code per line) to the gateway, which imports it as a
job; the command follows the job with a progress bar. `rotate-master` re-wraps every data key under
another master key. `void` / `restore` / `batches --bin` are the recycle bin of import batches, `move`
moves a batch's unsold keys to another pool or SKU, `export`
writes keys by batch, pool, state and expiry to CSV (codes only with --with-codes, which is audited), and
`log` is the pools' operation log. Keys are never printed on the terminal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

app = typer.Typer(help="Card-key pools: import key files, rotate the master key.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

CHUNK_BYTES = 1024 * 1024
POLL_S = 0.25
MODES = ("all-or-nothing", "valid-rows")

Gateway = Annotated[str, typer.Option(envvar="QUANYI_GATEWAY_URL", help="The gateway's base URL.")]
Token = Annotated[str, typer.Option(envvar="QUANYI_ADMIN_TOKEN", help="An admin bearer token.")]
AdminEmail = Annotated[
    str, typer.Option(envvar="QUANYI_ADMIN_EMAIL", help="Without a token: the admin's e-mail address.")
]
AdminPassword = Annotated[
    str, typer.Option(envvar="QUANYI_ADMIN_PASSWORD", help="Without a token: the admin's password.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def _problem(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    return str(body.get("detail") or body.get("title") or f"HTTP {r.status_code}")


def admin_client(gateway: str, token: str, email: str, password: str) -> httpx.Client:
    """An HTTP client for the admin API, signed in with the token, or else with e-mail and password."""
    client = httpx.Client(base_url=gateway, timeout=httpx.Timeout(60, connect=10))
    if not token:
        if not (email and password):
            err.print("[red]give --token (QUANYI_ADMIN_TOKEN), or --admin-email and --admin-password[/]")
            raise typer.Exit(2)
        r = client.post("/v1/auth/token", json={"email": email, "password": password})
        if r.status_code != 200:
            err.print(f"[red]sign-in failed: {_problem(r)}[/]")
            raise typer.Exit(1)
        token = r.json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _chunks(path: Path, advance: Any) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            advance(len(chunk))
            yield chunk


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The key file.")],
    pool: Annotated[str, typer.Option("--pool", help="The key pool to fill.")],
    unit_cost_minor: Annotated[
        int, typer.Option(min=0, help="What each key cost, in minor units (fen), unless its row says.")
    ] = 0,
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of costs and face values.")] = "CNY",
    mode: Annotated[
        str, typer.Option(help="all-or-nothing: any bad row stores nothing; valid-rows: store the good ones.")
    ] = "all-or-nothing",
    fmt: Annotated[
        str, typer.Option("--format", help="csv, tsv, xlsx or txt; default: from the file's extension.")
    ] = "",
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Import a key file of any size: upload, then follow the import job; bad rows by line and reason.

    Columns (header row; plain text has none, one code per line): code; optional password, face_value,
    unit_cost (decimal amounts, or face_value_minor / unit_cost_minor), valid_from, expires_at (ISO 8601,
    UTC unless an offset is given) and supplier. Exits 1 when nothing was stored because of bad rows."""
    if mode not in MODES:
        err.print(f"[red]--mode is one of {', '.join(MODES)}[/]")
        raise typer.Exit(2)
    size = file.stat().st_size
    started = time.perf_counter()
    show = err if as_json else console
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client, Progress(
        TextColumn("{task.description:<10}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeElapsedColumn(), console=show, transient=as_json,
    ) as bar:
        upload = bar.add_task("uploading", total=size)
        r = client.post(
            f"/v1/admin/pools/{pool}/key-files",
            params={"unit_cost_minor": unit_cost_minor, "currency": currency, "file_name": file.name,
                    "format": fmt, "mode": mode.replace("-", "_")},
            content=_chunks(file, lambda n: bar.advance(upload, n)),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            timeout=httpx.Timeout(600, connect=10),
        )
        if r.status_code != 202:
            err.print(f"[red]upload refused: {_problem(r)}[/]")
            raise typer.Exit(1)
        job = r.json()
        reading = bar.add_task("importing", total=size)
        while job["status"] == "running":
            time.sleep(POLL_S)
            r = client.get(f"/v1/admin/key-files/{job['job_id']}")
            if r.status_code != 200:
                err.print(f"[red]lost the import job: {_problem(r)}[/]")
                raise typer.Exit(1)
            job = r.json()
            bar.update(reading, completed=job["bytes_read"], description=job["stage"])
        bar.update(reading, completed=size)
    seconds = time.perf_counter() - started
    if job["status"] == "failed":
        if as_json:
            print(json.dumps({"job_id": job["job_id"], "status": "failed", "error": job["error"]}))
        else:
            err.print(f"[red]import failed: {job['error']}[/]")
        raise typer.Exit(1)
    result = job["result"]
    if as_json:
        out = {"job_id": job["job_id"], "seconds": round(seconds, 3), **result}
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_result(result, seconds)
    if result["aborted"]:
        raise typer.Exit(1)


def _print_result(result: dict[str, Any], seconds: float) -> None:
    if result["aborted"]:
        console.print("[red]nothing stored: the file has bad rows and the import is all-or-nothing[/]")
    else:
        console.print(
            f"[green]imported {result['imported']:,} keys[/] of {result['rows']:,} rows in {seconds:.1f} s"
            f" (batch {result['batch_id']})"
        )
    console.print(
        f"duplicates in the file {result['duplicates_in_file']:,} · already in the pool"
        f" {result['duplicates_in_pool']:,} · malformed {result['rejected']:,}"
        f" · sha256 {result['file_sha256']}"
    )
    bad = result["bad_rows"]
    if bad:
        table = Table("line", "reason", title=f"bad rows (first {min(len(bad), 20)})")
        for row in bad[:20]:
            table.add_row(str(row["line"]), row["reason"])
        console.print(table)


@app.command("rotate-master")
def rotate_master(
    to: Annotated[
        str, typer.Option("--to", help="The master key id to wrap under (inventory must hold it); default: "
                          "inventory's active master key.")
    ] = "",
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Re-wrap every batch's data key under another master key; card keys' rows are not touched.

    Configure inventory with the new key first (QUANYI_MASTER_KEYS holds old and new, and
    QUANYI_ACTIVE_MASTER_KEY_ID the new id); keep the old one as the fingerprint key."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.post("/v1/admin/keys/rotate-master", json={"master_key_id": to}, timeout=600)
    if r.status_code != 200:
        err.print(f"[red]rotation refused: {_problem(r)}[/]")
        raise typer.Exit(1)
    body = r.json()
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"re-wrapped {body['rewrapped']:,} data keys under master key {body['master_key_id']}")



# -- operator tools ------------------------------------------------------------------------------------


def _call(client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
    r = client.request(method, url, **kw)
    if r.status_code >= 400:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    return r.json()


@app.command("void")
def void_batch(
    batch: Annotated[str, typer.Argument(help="The import batch to void.")],
    reason: Annotated[str, typer.Option(help="Why, for the operation log.")] = "",
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Void an import batch: its available keys leave sale and wait in the recycle bin (see `restore`)."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        body = _call(client, "POST", f"/v1/admin/batches/{batch}/void", json={"reason": reason})
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"voided {body['keys']:,} keys of batch {batch}")


@app.command("restore")
def restore_batch(
    batch: Annotated[str, typer.Argument(help="The voided batch to take out of the recycle bin.")],
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Take a voided batch out of the recycle bin: its voided keys are available again."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        body = _call(client, "POST", f"/v1/admin/batches/{batch}/restore")
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"restored {body['keys']:,} keys of batch {batch}")


@app.command("move")
def move_batch(
    batch: Annotated[str, typer.Argument(help="The import batch whose unsold keys move.")],
    to_pool: Annotated[str, typer.Option("--to-pool", help="The pool they join (of this SKU or another).")],
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Move a batch's unsold keys to another pool or SKU (refused when that SKU holds one of their codes)."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        body = _call(client, "POST", f"/v1/admin/batches/{batch}/move", json={"to_pool_id": to_pool})
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"moved {body['keys']:,} keys of batch {batch} to pool {to_pool}")


@app.command("batches")
def list_batches(
    pool: Annotated[str, typer.Option("--pool", help="Only this pool's batches.")] = "",
    recycle_bin: Annotated[
        bool, typer.Option("--bin", help="Only voided batches (the recycle bin).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Import batches, newest first: file, keys by state, and whether in the recycle bin."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        body = _call(client, "GET", "/v1/admin/batches",
                     params={"pool_id": pool, "voided_only": recycle_bin, "page_size": limit})
    if as_json:
        print(json.dumps(body))
        return
    table = Table("batch", "pool", "imported", "by state", "file", "", title="import batches")
    for b in body["batches"]:
        states = " ".join(f"{k}={v:,}" for k, v in sorted(b["keys_by_state"].items()))
        table.add_row(b["batch_id"], b["pool_id"], f"{b['imported']:,}", states, b["file_name"],
                      "[red]in the bin[/]" if b["voided"] else "")
    console.print(table)


@app.command("export")
def export_keys(
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV file to write.")],
    batch: Annotated[str, typer.Option("--batch", help="Keys of this batch.")] = "",
    pool: Annotated[str, typer.Option("--pool", help="Keys of this pool.")] = "",
    state: Annotated[str, typer.Option(help="Keys in this state (available, reserved, void, ...).")] = "",
    expires_before: Annotated[
        str, typer.Option(help="Keys expiring before this ISO 8601 time (UTC unless an offset is given).")
    ] = "",
    with_codes: Annotated[
        bool, typer.Option("--with-codes", help="Include codes and passwords (audited in the operation log).")
    ] = False,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
) -> None:
    """Export keys by batch, pool, state and expiry to a CSV file; no codes unless --with-codes."""
    params: dict[str, str | bool] = {
        "batch_id": batch, "pool_id": pool, "state": state, "with_codes": with_codes
    }
    if expires_before:
        params["expires_before"] = expires_before
    rows = 0
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client, client.stream(
        "GET", "/v1/admin/keys/export", params=params, timeout=httpx.Timeout(600, connect=10)
    ) as r:
        if r.status_code >= 400:
            r.read()
            err.print(f"[red]export refused: {_problem(r)}[/]")
            raise typer.Exit(1)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if with_codes else 0o644)
        with os.fdopen(fd, "w", newline="") as fh:
            for text in r.iter_text():
                fh.write(text)
                rows += text.count("\n")
    note = " (with codes: keep it safe)" if with_codes else ""
    console.print(f"wrote {max(rows - 1, 0):,} keys to {out}{note}")


@app.command("log")
def operation_log(
    pool: Annotated[str, typer.Option("--pool", help="Only this pool's operations.")] = "",
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """The operation log of the card-key pools, newest first: imports, voids, restores, exports, ..."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        body = _call(client, "GET", "/v1/admin/pool-operations", params={"pool_id": pool, "page_size": limit})
    if as_json:
        print(json.dumps(body))
        return
    table = Table("at", "action", "actor", "pool", "batch", "keys", "detail", title="pool operations")
    for o in body["operations"]:
        table.add_row(o["at"], o["action"], o["actor"], o["pool_id"], o["batch_id"], f"{o['keys']:,}",
                      o["detail"])
    console.print(table)
