"""`quanyi ledger ...`: verify the journal, sign and check its head, balances and the trial balance,
reconcile providers' trade bills and work the operations list of mismatches. Talks to the ledger's gRPC
API (QUANYI_LEDGER_GRPC; `quanyi dev` writes it)."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1.money_pb2 import Money
from quanyi.ledger.v1 import ledger_service_pb2 as pb
from quanyi.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from quanyi_platform import rpc
from quanyi_platform.history import money_text
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quanyi_cli.config import CliSettings

app = typer.Typer(
    help="The ledger: verify, sign the chain head, balances, reconciliation.", no_args_is_help=True
)
console = Console()
# Warnings, refusals and spinners go to stderr, so that --json output stays one JSON object.
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
LedgerOpt = Annotated[
    str | None, typer.Option("--ledger", help="The ledger's gRPC address (default QUANYI_LEDGER_GRPC).")
]


def operator() -> str:
    """Who is at the keyboard, for the audit records of what they do."""
    return f"operator:{getpass.getuser()}"


def call(
    target: str | None, fn: Callable[[pb_grpc.LedgerServiceStub], Awaitable[T]], deadline_s: float = 600
) -> T:
    """Run one call against the ledger; a refusal is printed (never a stack trace) and exits 1."""

    async def run() -> T:
        channel = rpc.channel(target or CliSettings().ledger_grpc, deadline_s=deadline_s)
        try:
            return await fn(pb_grpc.LedgerServiceStub(channel))
        finally:
            await channel.close()

    try:
        return asyncio.run(run())
    except grpc.aio.AioRpcError as exc:
        err.print(f"[red]the ledger refused: {exc.details()} ({exc.code().name})[/]")
        raise typer.Exit(1) from exc


def instant(text: str | None, option: str) -> Timestamp | None:
    """An ISO 8601 instant (UTC when it has no offset) as a Timestamp."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        err.print(f"[red]{option} must be ISO 8601, like 2026-11-30T19:00:00Z, not {text!r}[/]")
        raise typer.Exit(2) from exc
    ts = Timestamp()
    ts.FromDatetime(t if t.tzinfo else t.replace(tzinfo=UTC))
    return ts


def signature_valid(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    """Checked here with the auditor's own copy of the key, not by the ledger that signed it."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(signature_hex), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def dump(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = MessageToDict(message, preserving_proto_field_name=True)
    return out


@app.command()
def verify(
    head: Annotated[
        Path | None, typer.Option(exists=True, readable=True, help="A head exported by `sign-head`.")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="The ledger's public key (hex) you trust; default: the head file's.")
    ] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Walk the hash chain and name the first broken link; with --head, also check the journal against a
    signed head exported before (which a rewritten and re-chained journal fails). Exit 1 when broken."""
    request = pb.VerifyJournalRequest()
    problems: list[str] = []
    if head is not None:
        exported = json.loads(head.read_text())
        key = public_key or exported["public_key"]
        if not public_key:
            err.print("[yellow]trusting the public key in the head file; pass --public-key to pin it[/]")
        # The signed bytes are rebuilt from the head's own fields (the ledger's published format), so a
        # file whose seq or hash was edited fails even if it kept the original statement.
        statement = json.dumps(
            {
                "ledger": "quanyi",
                "seq": exported["seq"],
                "hash": exported["hash"],
                "signed_at": exported["signed_at"],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        if not signature_valid(key, statement, exported["signature"]):
            problems.append(f"the head file's signature does not verify with key {key[:16]}…")
        request = pb.VerifyJournalRequest(head_seq=int(exported["seq"]), head_hash=exported["hash"])
    with err.status("verifying the journal…"):
        result = call(ledger, lambda s: s.VerifyJournal(request))
    problems += list(result.problems)
    ok = not problems
    if as_json:
        print(json.dumps({"ok": ok, "entries": result.entries, "problems": problems}, ensure_ascii=False))
    elif ok:
        console.print(f"[green]the journal verifies[/]: {result.entries} entries, chain intact")
    else:
        console.print(f"[red]the journal does not verify[/] ({result.entries} entries checked)")
        console.print(f"  first broken link: [bold]{problems[0]}[/]")
        for p in problems[1:]:
            console.print(f"  {p}")
    if not ok:
        raise typer.Exit(1)


@app.command("sign-head")
def sign_head(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the signed head (JSON).")
    ] = Path("ledger-head.json"),
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign the journal's current head (its last entry's seq and hash) with the ledger's Ed25519 key and
    export it, to check the journal against later (`verify --head`). The signing is audited."""
    reply = call(ledger, lambda s: s.SignChainHead(pb.SignChainHeadRequest(actor=operator())))
    h = reply.head
    body = {
        "seq": h.seq,
        "hash": h.hash,
        "signed_at": h.signed_at.ToDatetime(tzinfo=UTC).isoformat(),
        "public_key": h.public_key,
        "signature": h.signature,
        "statement": reply.statement.decode(),
    }
    output.write_text(json.dumps(body, indent=2) + "\n")
    if as_json:
        print(json.dumps(body))
    else:
        console.print(f"signed head at entry {h.seq} ({h.hash[:16]}…) written to {output}")


@app.command()
def balances(
    prefix: Annotated[str, typer.Option(help="Only accounts starting with this.")] = "",
    as_of: Annotated[str | None, typer.Option("--as-of", help="An instant (ISO 8601).")] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every account's balance (debits − credits), now or as of an instant."""
    ts = instant(as_of, "--as-of")
    request = (
        pb.GetBalancesRequest(account_prefix=prefix, as_of=ts)
        if ts
        else pb.GetBalancesRequest(account_prefix=prefix)
    )
    reply = call(ledger, lambda s: s.GetBalances(request))
    if as_json:
        print(json.dumps(dump(reply)))
        return
    table = Table("account", "balance", title=f"balances{' as of ' + as_of if as_of else ''}")
    for b in reply.balances:
        table.add_row(escape(b.account), money_text(b.balance_minor, b.currency))
    console.print(table)


@app.command("trial-balance")
def trial_balance(
    as_of: Annotated[str | None, typer.Option("--as-of", help="An instant (ISO 8601).")] = None,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Debit and credit totals of every account, and whether they balance in every currency."""
    ts = instant(as_of, "--as-of")
    request = pb.GetTrialBalanceRequest(as_of=ts) if ts else pb.GetTrialBalanceRequest()
    reply = call(ledger, lambda s: s.GetTrialBalance(request))
    if as_json:
        print(json.dumps(dump(reply)))
        return
    table = Table("account", "debit", "credit", title=f"trial balance up to entry {reply.head_seq}")
    for r in reply.rows:
        table.add_row(
            escape(r.account), money_text(r.debit_minor, r.currency), money_text(r.credit_minor, r.currency)
        )
    console.print(table)
    console.print("[green]balanced[/]" if reply.balanced else "[red]NOT balanced[/]")
    if not reply.balanced:
        raise typer.Exit(1)


@app.command()
def reconcile(
    file: Annotated[
        Path, typer.Argument(exists=True, readable=True, help="The provider's daily trade bill.")
    ],
    provider: Annotated[str, typer.Option(help="The bill's layout: wechatpay or alipay.")],
    ledger_provider: Annotated[
        str, typer.Option(help="The provider name the ledger's payments carry, if not the layout's.")
    ] = "",
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match a WeChat Pay or Alipay trade bill against the ledger by transaction id: matched, missing in
    the ledger, missing in the statement, amount mismatches, fee totals. Exit 1 when anything differs."""
    content = file.read_bytes()
    with err.status(f"reconciling {file.name}…"):
        reply = call(
            ledger,
            lambda s: s.ReconcileStatement(
                pb.ReconcileStatementRequest(
                    provider=provider, content=content, actor=operator(), ledger_provider=ledger_provider
                )
            ),
        )
    st = reply.statement
    if as_json:
        print(json.dumps(dump(reply), ensure_ascii=False))
    else:
        if reply.already_reconciled:
            console.print("[yellow]this file was reconciled before; nothing new recorded[/]")
        c = st.fee_total.currency
        console.print(
            f"{st.provider} {st.bill_date}: matched {st.matched},"
            f" missing in the ledger {st.missing_in_ledger},"
            f" missing in the statement {st.missing_in_statement},"
            f" amount mismatches {st.amount_mismatches};"
            f" payments {money_text(st.payment_total.minor_units, c)}, refunds"
            f" {money_text(st.refund_total.minor_units, c)}, fees {money_text(st.fee_total.minor_units, c)}"
        )
        _mismatch_table([(m, False, "") for m in reply.mismatches])
    if reply.mismatches:
        raise typer.Exit(1)


def _mismatch_table(rows: list[tuple[Any, bool, str]]) -> None:
    if not rows:
        return
    table = Table("mismatch", "provider", "kind", "transaction", "order", "ledger", "statement", "state")
    kinds = {1: "missing in ledger", 2: "missing in statement", 3: "amount"}
    for m, resolved, by in rows:
        c = m.ledger_amount.currency or m.statement_amount.currency
        table.add_row(
            m.mismatch_id,
            escape(m.provider),
            kinds.get(m.kind, "?"),
            escape(f"{m.txn_kind} {m.provider_txn_id}"),
            escape(m.order_id),
            money_text(m.ledger_amount.minor_units, c),
            money_text(m.statement_amount.minor_units, c),
            f"resolved by {by}" if resolved else "[bold]open[/]",
        )
    console.print(table)


@app.command()
def mismatches(
    include_resolved: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The operations list: reconciliation mismatches open until resolved."""

    async def every_page(stub: pb_grpc.LedgerServiceStub) -> pb.ListMismatchesResponse:
        found = pb.ListMismatchesResponse()
        token = ""
        while True:  # the ledger answers 100 at a time by default
            page = await stub.ListMismatches(
                pb.ListMismatchesRequest(include_resolved=include_resolved, page_token=token)
            )
            found.mismatches.extend(page.mismatches)
            token = page.next_page_token
            if not token:
                return found

    reply = call(ledger, every_page)
    if as_json:
        print(json.dumps(dump(reply), ensure_ascii=False))
        return
    if not reply.mismatches:
        console.print("no open mismatches")
        return
    _mismatch_table([(m.mismatch, m.resolved, m.resolution.actor) for m in reply.mismatches])


@app.command()
def resolve(
    mismatch_id: Annotated[str, typer.Argument(help="The mismatch.")],
    note: Annotated[str, typer.Option(help="Why it is resolved (kept in the audit record).")],
    adjust_minor: Annotated[
        int, typer.Option(help="Post what the provider holds more (+) or less (−), in minor units.")
    ] = 0,
    currency: Annotated[str, typer.Option(help="The adjustment's currency.")] = "CNY",
    ledger: LedgerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve a mismatch: an audited record of who and why, and an adjusting entry when asked."""
    request = pb.ResolveMismatchRequest(mismatch_id=mismatch_id, actor=operator(), note=note)
    if adjust_minor:
        request.adjustment.CopyFrom(Money(minor_units=adjust_minor, currency=currency))
    reply = call(ledger, lambda s: s.ResolveMismatch(request))
    if as_json:
        print(json.dumps(dump(reply), ensure_ascii=False))
    else:
        console.print(f"mismatch {mismatch_id} resolved by {reply.mismatch.resolution.actor}")
