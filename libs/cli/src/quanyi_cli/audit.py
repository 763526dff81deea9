"""`quanyi audit key K` / `quanyi audit order O`: the audit trail of a key or an order, assembled from every
service's event store (the read path of `quanyi history`), the ledger's journal entries (its
EntriesPosted events) and, for a key, the batch that inventory's record of sealed keys files it under:
who imported the key, when it was reserved, revealed (by which identity), delivered (to which buyer, over
which channel), redeemed, refunded, and every operator action with its journal entry. The folding here
is pure; the command reads the events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from psycopg import connect
from quanyi_platform.history import HistoryEvent, mentions_key, money_text
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Audit trails of keys and orders, from the event stores and the ledger.", no_args_is_help=True
)
console = Console()

# Payload fields that name who did something, in the order they are looked for.
_WHO = ("actor", "buyerId", "partner", "provider", "reviewer")


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    service: str
    what: str
    who: str
    detail: str
    event_id: str


@dataclass(frozen=True)
class JournalLine:
    seq: int
    at: str
    kind: str
    memo: str
    amounts: str
    hash: str


@dataclass
class Trail:
    subject: str
    kind: str
    lines: list[AuditLine]
    journal: list[JournalLine]
    notes: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "kind": self.kind,
            "trail": [{**asdict(a), "at": a.at.isoformat()} for a in self.lines],
            "journal": [asdict(j) for j in self.journal],
            "notes": self.notes,
        }


def _money(m: Any) -> str:
    return money_text(int(m.get("minorUnits", 0)), str(m.get("currency", ""))) if isinstance(m, dict) else ""


def describe(e: HistoryEvent, subject: str) -> tuple[str, str, str]:
    """What an event says happened, who did it, and its details, for people."""
    p = e.payload
    t = e.short_type
    who = next((str(p[k]) for k in _WHO if p.get(k)), "")
    keys = [k.get("keyId", "") for k in p.get("keys", []) if isinstance(k, dict)]
    keys += [str(k) for k in p.get("keyIds", [])]
    key_text = ", ".join(k for k in keys if k) or ""
    if t == "OrderPlaced":
        return (
            "order placed",
            f"buyer {p.get('buyerId', '?')}",
            f"channel {p.get('channel', '?')}, total {_money(p.get('total'))}",
        )
    if t == "PaymentCaptured":
        refused = f", refused: {p['refusedReason']}" if p.get("refusedReason") else ""
        return "payment captured", who, f"{p.get('providerTxnId', '')} {_money(p.get('amount'))}{refused}"
    if t == "KeyReserved":
        return "keys reserved", "inventory", key_text
    if t == "KeysRevealed":
        return "keys revealed", f"{p.get('actor', '?')}", f"purpose {p.get('purpose', '?')}: {key_text}"
    if t == "KeyDelivered":
        channels = ", ".join(p.get("channels", []))
        return (
            "keys delivered",
            f"buyer {p.get('buyerId', '?')}",
            f"over {channels or '?'} (sold on {p.get('salesChannel', '?')}): {key_text}",
        )
    if t == "Redeemed":
        return (
            "key redeemed",
            f"partner {p.get('partner', '?')}",
            f"{p.get('keyId', '')} at {p.get('redeemedAt', '')}",
        )
    if t in ("OrderRefunded", "RefundRequested", "RefundSucceeded", "RefundSent"):
        return t, who, f"{_money(p.get('amount'))} {p.get('reason', '')}".strip()
    if t == "KeysImported":
        return (
            "keys imported",
            f"{p.get('actor', '?')}",
            f"batch {p.get('batchId')}: {p.get('imported')} key(s) at {_money(p.get('unitCost'))}"
            f" into pool {p.get('poolId')}",
        )
    if t == "EntriesPosted":
        return "journal entries posted", "ledger", ""
    detail = " ".join(f"{k}={v}" for k, v in p.items() if isinstance(v, str | int) and v != subject)
    return t, who, detail[:200]


def _line_text(ln: dict[str, Any]) -> str:
    debit, credit = int(ln.get("debitMinor", 0)), int(ln.get("creditMinor", 0))
    side = "Dr" if debit else "Cr"
    sku = f" (sku {ln['skuId']})" if ln.get("skuId") else ""
    return f"{side} {ln.get('account')} {money_text(debit or credit, str(ln.get('currency', '')))}{sku}"


def _journal(events: Sequence[HistoryEvent], orders: set[str]) -> list[JournalLine]:
    out: dict[int, JournalLine] = {}
    for e in events:
        if e.short_type != "EntriesPosted":
            continue
        for entry in e.payload.get("entries", []):
            if entry.get("correlationId") not in orders and entry.get("reference") not in orders:
                continue
            amounts = "; ".join(_line_text(ln) for ln in entry.get("lines", []))
            seq = int(entry.get("seq", 0))
            out[seq] = JournalLine(
                seq,
                str(entry.get("occurredAt", "")),
                str(entry.get("kind", "")),
                str(entry.get("memo", "")),
                amounts,
                str(entry.get("hash", ""))[:16],
            )
    return [out[s] for s in sorted(out)]


# Events about a whole import batch, which concern each of its keys.
_BATCH_TYPES = frozenset({"KeysImported", "BatchVoided", "BatchRestored", "KeysMoved"})


def trail(
    subject: str, kind: str, events: Sequence[HistoryEvent], batch_id: str | None = None
) -> Trail:
    """The audit trail of an order or a key from the events that concern it (any services, any order).

    For a key, `batch_id` is the import batch its record row belongs to (`key_batch`): its KeysImported,
    and the batch's voids, restores and moves, are then the key's, exactly. Without it the import is
    guessed from the pool the key was reserved from, and a note says so."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.service, e.seq))
    notes: list[str] = []
    if kind == "order":
        mine = [e for e in ordered if e.short_type != "EntriesPosted"]
        orders = {subject}
    elif batch_id:
        batch = [e for e in ordered if e.short_type in _BATCH_TYPES and e.payload.get("batchId") == batch_id]
        mine = [
            e for e in ordered
            if e in batch or (e.short_type != "EntriesPosted" and mentions_key(e.payload, subject))
        ]
        orders = {e.correlation_id for e in mine if e.correlation_id and e not in batch} | {batch_id}
        if not any(e.short_type == "KeysImported" for e in batch):
            notes.append(f"the key is of batch {batch_id}, whose KeysImported is not in the event stores")
    else:
        mine = [e for e in ordered if e.short_type != "EntriesPosted" and mentions_key(e.payload, subject)]
        orders = {e.correlation_id for e in mine if e.correlation_id}
        pools = {
            k.get("poolId")
            for e in mine
            if e.short_type == "KeyReserved"
            for k in e.payload.get("keys", [])
            if isinstance(k, dict) and k.get("keyId") == subject
        }
        imports = [e for e in ordered if e.short_type == "KeysImported" and e.payload.get("poolId") in pools]
        if len(imports) == 1:
            mine.insert(0, imports[0])
        elif imports:
            mine = imports + mine
            notes.append(
                "the key came from one of these imports into its pool (the key is not in inventory's record)"
            )
        else:
            notes.append("its import is not known (the key is not in inventory's record)")
    lines = [AuditLine(e.occurred_at, e.service, *describe(e, subject), e.event_id) for e in mine]
    return Trail(subject, kind, lines, _journal(ordered, orders), notes)


@app.command()
def key(
    key_id: Annotated[str, typer.Argument(help="The key id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Who imported the key, when it was reserved, revealed (to whom), delivered (to which buyer, over
    which channel), redeemed and refunded, and the journal entries of its orders."""
    _show(key_id, "key", as_json)


@app.command()
def order(
    order_id: Annotated[str, typer.Argument(help="The order id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Everything that happened to the order, who did it, and its journal entries."""
    _show(order_id, "order", as_json)


def key_batch(database_url: str, key_id: str) -> str | None:
    """The import batch of `key_id`, from inventory's record of sealed keys (key_material), the append-only
    rows its KeysImported points to: only the batch and key ids are read, never a ciphertext. None when
    the record does not hold the key (or is not in this database)."""
    with connect(database_url) as conn:
        found = conn.execute("SELECT to_regclass('inventory.key_material')").fetchone()
        if not found or not found[0]:
            return None
        row = conn.execute(
            "SELECT batch_id FROM inventory.key_material WHERE key_id = %s LIMIT 1", (key_id,)
        ).fetchone()
    return str(row[0]) if row else None


def _show(subject: str, kind: str, as_json: bool) -> None:
    from quanyi_cli import main

    url = main._database_url()
    events = main._history_events(url, subject)
    # A key no event names yet (in stock, never sold) still has the batch it was imported in.
    batch_id = key_batch(url, subject) if kind == "key" else None
    if not events and not batch_id:
        console.print(f"no events name {subject}")
        raise typer.Exit(1)
    if batch_id:
        # The batch's own events (its import, voids, moves) and the ledger's entry of its cost.
        seen = {(e["service"], e["seq"]) for e in events}
        events += [e for e in main._history_events(url, batch_id) if (e["service"], e["seq"]) not in seen]
    result = trail(subject, kind, [HistoryEvent(**e) for e in events], batch_id)
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False, default=str))
        return
    table = Table("when (UTC)", "service", "what", "who", "details", title=f"audit trail of {kind} {subject}")
    for a in result.lines:
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M:%S"), *map(escape, (a.service, a.what, a.who, a.detail)))
    console.print(table)
    for n in result.notes:
        console.print(f"[yellow]{n}[/]")
    if result.journal:
        jt = Table("entry", "kind", "memo", "lines", "hash", title="journal")
        for j in result.journal:
            jt.add_row(str(j.seq), *map(escape, (j.kind, j.memo, j.amounts)), j.hash + "…")
        console.print(jt)
