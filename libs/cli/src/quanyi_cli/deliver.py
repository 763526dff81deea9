"""`quanyi deliver`: deliver an order's keys on a channel now, through the gateway's admin API.

An operator's re-drive after a channel gave up (the exception queue), or a switch of channel: `webhook`
(a signed POST to a URL), `sms` (a phone number in E.164) or `activation` (a top-up of the buyer's account
on the partner platform; idempotent per key, so a re-drive never credits a key twice). The target is
passed to fulfillment for this delivery only and stored nowhere; `--target -` reads it from standard input
(to keep it out of the shell's history).
"""

from __future__ import annotations

import json
import sys
from contextlib import closing
from typing import Annotated, Any

import typer
from rich.console import Console

from quanyi_cli.keys import AdminEmail, AdminPassword, Gateway, Token, _problem, admin_client

console = Console()
err = Console(stderr=True)

CHANNELS = ("webhook", "sms", "activation", "app")


def deliver(
    order_id: Annotated[str, typer.Argument(help="The order whose keys to deliver.")],
    channel: Annotated[str, typer.Option(help="webhook, sms, activation or app.")],
    target: Annotated[
        str, typer.Option(help="The URL, the phone number, the partner account, the device's push token;"
                          " - reads stdin.")
    ],
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: delivered, attempts, reason.")
    ] = False,
) -> None:
    """Deliver an order's keys on a channel now (re-drive or switch of channel); exit 1 if it failed."""
    if channel not in CHANNELS:
        err.print(f"[red]--channel must be one of {', '.join(CHANNELS)}[/]")
        raise typer.Exit(2)
    if target == "-":
        target = sys.stdin.readline().strip()
    with console.status(f"delivering on {channel} (the channel retries with backoff)"):
        with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
            r = client.post(
                f"/v1/admin/orders/{order_id}/deliveries", json={"channel": channel, "target": target},
                timeout=120,
            )
    if r.status_code != 200:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    result: dict[str, Any] = r.json()
    if as_json:
        print(json.dumps(result))
    elif result["delivered"]:
        console.print(f"{order_id}: delivered on {channel} ({result['attempts']} attempt(s))")
    else:
        err.print(f"[red]{order_id}: not delivered on {channel} after {result['attempts']} attempt(s):"
                  f" {result['reason']}[/]")
    if not result["delivered"]:
        raise typer.Exit(1)
