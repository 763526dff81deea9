"""`quanyi coupons`: the operator's coupons, through the gateway's admin API.

`create CODE --fixed 500 | --percent 1000 [--max-discount ..] [--min-order ..] [--sku ..] [--valid-from ..]
[--expires-at ..] [--total-cap N] [--per-buyer-cap N]` defines one (amounts in fen of --currency; percents
in basis points, rounded down to a fen); `list` shows them with the uses orders hold; `disable CODE` stops
new orders from applying one. Needs an operator allowed coupons (operations or owner to change them;
finance and read-only to list).
"""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from quanyi_cli.keys import AdminEmail, AdminPassword, Gateway, Token, _problem, admin_client

app = typer.Typer(help="Coupons: define, list and disable them.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _money(minor: int | None, currency: str) -> dict[str, Any] | None:
    return {"amount_minor": minor, "currency": currency} if minor is not None else None


def _text(m: dict[str, Any] | None) -> str:
    return f"{m['amount_minor'] / 100:.2f} {m['currency']}" if m else ""


@app.command("create")
def create(
    code: Annotated[str, typer.Argument(help="The code buyers type (any case).")],
    fixed: Annotated[int | None, typer.Option(help="Fixed amount off, in fen.")] = None,
    percent: Annotated[int | None, typer.Option(help="Basis points off (1000 = 10%), rounded down.")] = None,
    max_discount: Annotated[int | None, typer.Option(help="A percent coupon's most off, in fen.")] = None,
    min_order: Annotated[int | None, typer.Option(help="The least the order's lines sum to, in fen.")] = None,
    currency: Annotated[str, typer.Option(help="The amounts' currency.")] = "CNY",
    sku: Annotated[list[str] | None, typer.Option(help="Applies to this SKU only (repeat for more).")] = None,
    valid_from: Annotated[
        datetime | None, typer.Option(help="Valid from (ISO 8601, UTC if no zone)")
    ] = None,
    expires_at: Annotated[datetime | None, typer.Option(help="Valid until (exclusive).")] = None,
    total_cap: Annotated[int, typer.Option(min=0, help="Orders that may hold a use at once; 0 none.")] = 0,
    per_buyer_cap: Annotated[int, typer.Option(min=0, help="Uses per buyer; 0 none.")] = 0,
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    as_json: Annotated[bool, typer.Option("--json", help="The coupon as one JSON object.")] = False,
) -> None:
    """Define a coupon: --fixed FEN or --percent BPS."""
    if (fixed is None) == (percent is None):
        err.print("[red]give exactly one of --fixed and --percent[/]")
        raise typer.Exit(2)

    def at(t: datetime | None) -> str | None:
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat() if t else None

    body = {
        "code": code, "kind": "fixed" if fixed is not None else "percent",
        "amount_off": _money(fixed, currency), "percent_off_bps": percent or 0,
        "max_discount": _money(max_discount, currency), "min_order": _money(min_order, currency),
        "sku_ids": sku or [], "valid_from": at(valid_from), "expires_at": at(expires_at),
        "total_cap": total_cap, "per_buyer_cap": per_buyer_cap,
    }
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.post("/v1/admin/coupons", json=body)
    if r.status_code != 201:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(r.json()))
        return
    console.print(f"coupon {r.json()['code']} created")


@app.command("list")
def list_(
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array of the coupons.")] = False,
) -> None:
    """List coupons, newest first, with their uses."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.get("/v1/admin/coupons", params={"limit": limit})
    if r.status_code != 200:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    coupons: list[dict[str, Any]] = r.json()["coupons"]
    if as_json:
        print(json.dumps(coupons))
        return
    table = Table("code", "off", "min order", "SKUs", "valid", "uses / cap", "per buyer", "state")
    for c in coupons:
        off = _text(c["amount_off"]) if c["kind"] == "fixed" else f"{c['percent_off_bps'] / 100:g}%"
        if c["kind"] == "percent" and c["max_discount"]:
            off += f" (max {_text(c['max_discount'])})"
        valid = f"{c['valid_from'] or '-'} .. {c['expires_at'] or '-'}"
        table.add_row(c["code"], off, _text(c["min_order"]), ", ".join(c["sku_ids"]) or "all", valid,
                      f"{c['uses']} / {c['total_cap'] or '-'}", str(c["per_buyer_cap"] or "-"),
                      "disabled" if c["disabled"] else "active")
    console.print(table)


@app.command("disable")
def disable(
    code: Annotated[str, typer.Argument(help="The code (any case).")],
    gateway: Gateway = "http://127.0.0.1:8000",
    token: Token = "",
    admin_email: AdminEmail = "",
    admin_password: AdminPassword = "",
) -> None:
    """Disable a coupon: orders placed from now on cannot apply it."""
    with closing(admin_client(gateway, token, admin_email, admin_password)) as client:
        r = client.post(f"/v1/admin/coupons/{code}/disable")
    if r.status_code != 200:
        err.print(f"[red]{_problem(r)}[/]")
        raise typer.Exit(1)
    console.print(f"coupon {r.json()['code']} disabled ({r.json()['uses']} uses held)")
