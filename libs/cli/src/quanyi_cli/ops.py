"""`quanyi ops`: the exception queue, through the gateway's admin API.

`queue` lists the paid orders that need an operator (delivery given up, not delivered by the deadline, or a
channel that gave up after the order was fulfilled); `redrive ORDER_ID --action ...` acts on one: refund its
remaining units through the payment provider, resolve it (settled or delivered by hand), or deliver it
again on its channel (redrive) or another (switch) with --channel and --target, the entry resolved only if
the channel delivered. Every action is recorded with the operator and the note.
"""

from __future__ import annotations

import json
import sys
from contextlib import closing
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from quanyi_cli.keys import AdminEmail, AdminPassword, Gateway, Token, _problem, admin_client

app = typer.Typer(
    help="Operations: the exception queue of paid orders that need an operator.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


@app.command("queue")
def queue(
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    all_entries: Annotated[bool, typer.Option("--all", help="Resolved entries too.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array of the entries.")] = False,
) -> None:
    """List the exception queue, oldest first."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.get("/v1/admin/ops/queue", params={"include_resolved": all_entries, "limit": limit})
    if r.status_code != 200:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    entries: list[dict[str, Any]] = r.json()["items"]
    if as_json:
        print(json.dumps(entries))
        return
    table = Table("order", "queued at", "source", "reason", "status")
    for e in entries:
        status = e["status"] if e["status"] == "OPEN" else f"{e['resolution']} by {e['actor']}"
        table.add_row(e["order_id"], e["queued_at"], e["source"], e["reason"], status)
    console.print(table)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


@app.command("redrive")
def redrive(
    order_id: Annotated[str, typer.Argument(help="The order in the queue.")],
    action: Annotated[str, typer.Option(
        help="refund (its remaining units), resolve (settled by hand), redrive (its channel again), switch"
        " (another channel); for a refund inventory refused: override (refund it despite the redeemed key)"
        " or decline (close it). override and decline need --note."
    )],
    note: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
    channel: Annotated[
        str, typer.Option(help="For redrive and switch: email, webhook, sms, activation or app.")
    ] = "",
    target: Annotated[str, typer.Option(
        help="For redrive and switch: the URL, the phone number, the partner account; - reads stdin; empty"
        " uses what the buyer keeps (the address for email)."
    )] = "",
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: the entry and the refund id.")
    ] = False,
) -> None:
    """Act on an order in the exception queue."""
    if action not in ("refund", "resolve", "redrive", "switch", "override", "decline"):
        err.print("[red]--action must be refund, resolve, redrive, switch, override or decline[/]")
        raise typer.Exit(2)
    body: dict[str, str] = {"action": action, "note": note}
    if action in ("redrive", "switch"):
        if not channel:
            err.print(f"[red]--action {action} needs --channel[/]")
            raise typer.Exit(2)
        body |= {"channel": channel, "target": sys.stdin.readline().strip() if target == "-" else target}
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.post(f"/v1/admin/ops/queue/{order_id}", json=body, timeout=200)
    if r.status_code != 200:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    result: dict[str, Any] = r.json()
    if as_json:
        print(json.dumps(result))
        return
    entry = result["entry"]
    console.print(f"{entry['order_id']}: {entry['status']} ({entry['resolution']} by {entry['actor']})")
    if result["refund_id"]:
        console.print(f"refund {result['refund_id']} requested; the provider confirms it")
