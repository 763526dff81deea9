"""`quanyi operators`: operators' accounts and roles, through the gateway's admin API (an owner's token).

Roles: owner (everything), operations (products, SKUs, pools, keys, orders, the exception queue,
deliveries), finance (reports, the ledger, reconciliation, refunds), support (orders, the exception queue's
actions but refunds, resends, audit lookups, unlocking a buyer) and read-only (reads, never a key's code).
`add` reads the first password from standard input or a prompt, never from an argument (shell history).
"""

from __future__ import annotations

import json
import sys
from contextlib import closing
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from quanyi_cli.keys import AdminEmail, AdminPassword, Gateway, Token, _problem, admin_client

ROLES = ("owner", "operations", "finance", "support", "read-only")

app = typer.Typer(help="Operators' accounts and roles (owner only).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

Role = Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _check_role(role: str) -> None:
    if role not in ROLES:
        err.print(f"[red]--role must be one of {', '.join(ROLES)}[/]")
        raise typer.Exit(2)


def _ok(r: httpx.Response, *statuses: int) -> None:
    if r.status_code not in statuses:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)


def _find(client: httpx.Client, email: str) -> dict[str, Any]:
    r = client.get("/v1/admin/operators")
    _ok(r, 200)
    for operator in r.json():
        if operator["email"] == email.strip().lower():
            found: dict[str, Any] = operator
            return found
    err.print(f"[red]no operator has the address {email}[/]")
    raise typer.Exit(1)


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The operator's sign-in address.")],
    role: Role,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Add an operator with a role; their first password is read from stdin (or asked for)."""
    _check_role(role)
    if sys.stdin.isatty():
        password = typer.prompt("first password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.post("/v1/admin/operators", json={"email": email, "password": password, "role": role})
    _ok(r, 201)
    body = r.json()
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"{body['email']}: {body['role']} ({body['user_id']})")


@app.command("list")
def list_operators(
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: AsJson = False,
) -> None:
    """Every operator and their role."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.get("/v1/admin/operators")
    _ok(r, 200)
    operators: list[dict[str, Any]] = r.json()
    if as_json:
        print(json.dumps(operators))
        return
    table = Table("e-mail", "role", "id")
    for o in operators:
        table.add_row(o["email"], o["role"], o["user_id"])
    console.print(table)


@app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The operator's sign-in address.")],
    role: Role,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
) -> None:
    """Give an operator another role; the tokens they hold stop working and they sign in again."""
    _check_role(role)
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        operator = _find(client, email)
        r = client.put(f"/v1/admin/operators/{operator['user_id']}/role", json={"role": role})
    _ok(r, 200)
    console.print(f"{operator['email']}: {operator['role']} -> {r.json()['role']}")


@app.command("remove")
def remove(
    email: Annotated[str, typer.Argument(help="The operator's sign-in address.")],
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
) -> None:
    """Remove an operator's account; the tokens they hold stop working at once."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        operator = _find(client, email)
        r = client.delete(f"/v1/admin/operators/{operator['user_id']}")
    _ok(r, 204)
    console.print(f"{operator['email']}: removed")
