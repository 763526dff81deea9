"""`quanyi report sales`: sales, refunds, cost and gross margin by SKU, channel and day, week or month,
as a table in the terminal, JSON, or a CSV or XLSX file (an export the ledger records as audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi_platform.history import money_text
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quanyi_cli.ledger import JsonOpt, LedgerOpt, call, dump, err, instant, operator

app = typer.Typer(help="Financial reports from the ledger.", no_args_is_help=True)
console = Console()

PERIODS = {
    "none": pb.REPORT_PERIOD_UNSPECIFIED,
    "day": pb.REPORT_PERIOD_DAY,
    "week": pb.REPORT_PERIOD_WEEK,
    "month": pb.REPORT_PERIOD_MONTH,
}


@app.command()
def sales(
    by: Annotated[
        str, typer.Option(help="Group by any of product, sku, channel (comma-separated), or none.")
    ] = "sku,channel",
    period: Annotated[str, typer.Option(help="day, week, month or none.")] = "day",
    start: Annotated[
        str | None, typer.Option("--from", help="From this instant (ISO 8601), inclusive.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Until this instant (ISO 8601), exclusive.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the report as CSV here.")] = None,
    xlsx_file: Annotated[
        Path | None, typer.Option("--xlsx", help="Also write the report as XLSX here.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sales, refunds, cost of the keys delivered and gross margin, per period and group."""
    if period not in PERIODS:
        err.print(f"[red]--period must be one of {', '.join(PERIODS)}[/]")
        raise typer.Exit(2)
    if csv_file and xlsx_file:
        err.print("[red]give --csv or --xlsx, not both[/]")
        raise typer.Exit(2)
    groups = [] if by in ("", "none") else [g.strip() for g in by.split(",")]
    request = pb.GetReportRequest(period=PERIODS[period], group_by=groups, actor=operator())
    if (ts := instant(start, "--from")) is not None:
        request.from_time.CopyFrom(ts)
    if (ts := instant(end, "--to")) is not None:
        request.to_time.CopyFrom(ts)
    target = csv_file or xlsx_file
    if csv_file:
        request.format = pb.REPORT_FORMAT_CSV
    elif xlsx_file:
        request.format = pb.REPORT_FORMAT_XLSX
    with err.status("reading the ledger…"):
        reply = call(ledger, lambda s: s.GetReport(request))
    if target is not None:
        target.write_bytes(reply.content)
    if as_json:
        print(json.dumps({"rows": dump(reply).get("rows", []), "file": str(target) if target else None}))
        return
    # Only the columns the report is grouped by, so that the amounts fit a terminal.
    keys = [
        (name, attr)
        for name, attr in (
            ("period", "period"),
            ("channel", "channel"),
            ("product", "product_id"),
            ("sku", "sku_id"),
        )
        if any(getattr(r, attr) for r in reply.rows)
    ]
    table = Table(*(n for n, _ in keys), "sales", "refunds", "discounts", "cost", "margin", title="sales")
    for r in reply.rows:
        c = r.currency
        table.add_row(
            *(escape(getattr(r, attr)) or "—" for _, attr in keys),
            money_text(r.sales_minor, c),
            money_text(r.refunds_minor, c),
            money_text(r.discounts_minor, c),
            money_text(r.cost_minor, c),
            money_text(r.margin_minor, c),
        )
    console.print(table)
    if target is not None:
        console.print(f"written to {target}")
