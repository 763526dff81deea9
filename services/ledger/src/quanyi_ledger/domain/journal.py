"""Journal entries: double-entry, balanced per currency, in integer minor units."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

_s = json.encoder.encode_basestring_ascii  # C: a JSON string, ASCII only

# A line as the chain covers it: (account, currency, debit_minor, credit_minor, sku_id).
LineRow = tuple[str, str, int, int, str]


class UnbalancedEntry(ValueError):
    """The lines cannot form a journal entry: fewer than two, a bad amount, or debits ≠ credits."""


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units (fen for CNY) with its ISO 4217 currency."""

    minor: int
    currency: str


@dataclass(frozen=True)
class JournalLine:
    """One side of an entry: exactly one of debit_minor and credit_minor is positive, the other is 0.

    `sku_id`, when set, is the SKU the amount is about (revenue, refunds, cost and stock are posted per
    SKU, which the reports group by); it is part of the line, so the chain's hash covers it.
    """

    account: str
    debit_minor: int
    credit_minor: int
    currency: str
    sku_id: str = ""

    @classmethod
    def debit(cls, account: str, amount: Money, sku_id: str = "") -> JournalLine:
        return cls(account, amount.minor, 0, amount.currency, sku_id)

    @classmethod
    def credit(cls, account: str, amount: Money, sku_id: str = "") -> JournalLine:
        return cls(account, 0, amount.minor, amount.currency, sku_id)


def _balanced(lines: tuple[JournalLine, ...]) -> bool:
    """Whether every line is one positive side with an account and a currency, and debits equal credits
    in every currency: the usual case, checked in one pass (posting and verification run it per entry)."""
    net: dict[str, int] = {}
    for ln in lines:
        d, c = ln.debit_minor, ln.credit_minor
        if not ln.account or not ln.currency or d < 0 or c < 0 or (d > 0) == (c > 0):
            return False
        net[ln.currency] = net.get(ln.currency, 0) + d - c
    return not any(net.values())


def entry_problems(lines: Iterable[JournalLine]) -> list[str]:
    """Why `lines` do not form a balanced entry; empty when they do.

    Used both to refuse a new entry and to verify recorded ones, which may have been tampered with.
    """
    lines = tuple(lines)
    if len(lines) >= 2 and _balanced(lines):
        return []
    problems: list[str] = []
    if len(lines) < 2:
        problems.append(f"{len(lines)} line(s); an entry needs at least 2")
    debits: dict[str, int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    for n, line in enumerate(lines, start=1):
        if not line.account:
            problems.append(f"line {n} has no account")
        if not line.currency:
            problems.append(f"line {n} has no currency")
        if line.debit_minor < 0 or line.credit_minor < 0:
            problems.append(f"line {n} has a negative amount")
        elif (line.debit_minor > 0) == (line.credit_minor > 0):
            problems.append(f"line {n} must be either a debit or a credit")
        debits[line.currency] += line.debit_minor
        credits[line.currency] += line.credit_minor
    for currency in sorted(debits.keys() | credits.keys()):
        if debits[currency] != credits[currency]:
            problems.append(f"debits {debits[currency]} ≠ credits {credits[currency]} in {currency or '?'}")
    return problems


@dataclass(frozen=True)
class JournalEntry:
    """A balanced set of lines explaining one financial fact, the event `source_event_id`.

    Construction refuses, with UnbalancedEntry, lines that do not balance per currency, fewer than two
    lines, negative amounts, and lines that are both or neither a debit and a credit.
    """

    kind: str
    source_event_id: str
    occurred_at: datetime
    memo: str
    lines: tuple[JournalLine, ...]
    # The outside reference the entry is matched by, e.g. the provider's transaction id of a payment.
    reference: str = ""
    # The entry's canonical text as the hash chain covers it (chain.canonical), split around its seq, which
    # only linking gives it: made with the entry (by posting.premade ahead of the transaction), so that
    # linking a batch is only a hash per entry. Derived, so not compared.
    chain_text: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.kind:
            raise ValueError("a journal entry needs a kind")
        if not self.source_event_id:
            raise ValueError("a journal entry needs its source event")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        # One pass reads each line once for both the balance check (_balanced's) and the chain's rows: every
        # entry posted is made here, ahead of its batch's transaction.
        rows: list[LineRow] = []
        net: dict[str, int] = {}
        ok = len(self.lines) >= 2
        for ln in self.lines:
            a, c, d, cr = ln.account, ln.currency, ln.debit_minor, ln.credit_minor
            if not a or not c or d < 0 or cr < 0 or (d > 0) == (cr > 0):
                ok = False
            net[c] = net.get(c, 0) + d - cr
            rows.append((a, c, d, cr, ln.sku_id))
        if not ok or any(net.values()):
            problems = entry_problems(self.lines)
            raise UnbalancedEntry(f"{self.kind} entry refused: " + "; ".join(problems))
        rows.sort()
        text = canonical_text(self.kind, self.source_event_id, self.occurred_at, rows, self.reference)
        object.__setattr__(self, "chain_text", text)


def canonical_text(
    kind: str, source_event_id: str, occurred_at: datetime, sorted_lines: Iterable[LineRow], reference: str
) -> tuple[str, str]:
    """An entry's canonical JSON (keys and lines sorted, UTC, ASCII; see chain.canonical) before and after
    its seq's digits: the text is `head + str(seq) + tail`."""
    parts = []
    for a, c, d, cr, sku in sorted_lines:
        line = f'{{"account":{_s(a)},"credit_minor":{int(cr)},"currency":{_s(c)},"debit_minor":{int(d)}'
        parts.append(line + (f',"sku":{_s(sku)}}}' if sku else "}"))
    ref = f',"reference":{_s(reference)}' if reference else ""
    at = occurred_at if occurred_at.tzinfo is UTC else occurred_at.astimezone(UTC)
    return (
        f'{{"kind":{_s(kind)},"lines":[{",".join(parts)}],"occurred_at":{_s(at.isoformat())}{ref},"seq":',
        f',"source_event_id":{_s(source_event_id)}}}',
    )
