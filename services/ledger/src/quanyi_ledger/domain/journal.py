"""Journal entries: double-entry, balanced per currency, in integer minor units."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

_s = json.encoder.encode_basestring_ascii  # C: a JSON string, ASCII only

# A line as the chain covers it: (account, currency, debit_minor, credit_minor, sku_id).
LineRow = tuple[str, str, int, int, str]


class UnbalancedEntry(ValueError):
    """The lines cannot form a journal entry: fewer than two, a bad amount, or debits ≠ credits."""


class Money(NamedTuple):
    """An amount in integer minor units (fen for CNY) with its ISO 4217 currency.

    A NamedTuple, like JournalLine: immutable as a frozen dataclass, and made in a quarter of the time (every
    entry posted makes several, see bench/README "ledger")."""

    minor: int
    currency: str


class JournalLine(NamedTuple):
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


def balanced(rows: Iterable[LineRow]) -> bool:
    """Whether the line rows form a balanced entry (entry_problems would find nothing): at least two, each
    one positive side with an account and a currency, and debits equal to credits in every currency. One
    pass: posting and verification run it for every entry."""
    net: dict[str, int] = {}
    n = 0
    for a, c, d, cr, _ in rows:
        if not a or not c or d < 0 or cr < 0 or (d > 0) == (cr > 0):
            return False
        net[c] = net.get(c, 0) + d - cr
        n += 1
    return n >= 2 and not any(net.values())


def entry_problems(lines: Iterable[JournalLine]) -> list[str]:
    """Why `lines` do not form a balanced entry; empty when they do.

    Used both to refuse a new entry and to verify recorded ones, which may have been tampered with.
    """
    lines = tuple(lines)
    if balanced((a, c, d, cr, sku) for a, d, cr, c, sku in lines):
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
        # The chain's rows, in the canonical text's order, are what the balance is checked on: every entry
        # posted is made here, ahead of its batch's transaction.
        rows = sorted([(a, c, d, cr, sku) for a, d, cr, c, sku in self.lines])
        if not balanced(rows):
            problems = entry_problems(self.lines)
            raise UnbalancedEntry(f"{self.kind} entry refused: " + "; ".join(problems))
        text = canonical_text(self.kind, self.source_event_id, self.occurred_at, rows, self.reference)
        object.__setattr__(self, "chain_text", text)


# A line's canonical text by its row. The same lines recur (a SKU sold at its price, on a channel, its key's
# cost), so most entries find theirs here rather than format them (~6% of posting's client CPU); bounded.
_LINE_TEXT: dict[LineRow, str] = {}
_LINE_TEXT_MAX = 10_000


def _line_text(row: LineRow) -> str:
    a, c, d, cr, sku = row
    # `:d` formats an int as int() would, and refuses anything else.
    text = f'{{"account":{_s(a)},"credit_minor":{cr:d},"currency":{_s(c)},"debit_minor":{d:d}' + (
        f',"sku":{_s(sku)}}}' if sku else "}"
    )
    if len(_LINE_TEXT) >= _LINE_TEXT_MAX:
        _LINE_TEXT.clear()
    _LINE_TEXT[row] = text
    return text


def canonical_text(
    kind: str, source_event_id: str, occurred_at: datetime, sorted_lines: Iterable[LineRow], reference: str
) -> tuple[str, str]:
    """An entry's canonical JSON (keys and lines sorted, UTC, ASCII; see chain.canonical) before and after
    its seq's digits: the text is `head + str(seq) + tail`."""
    known = _LINE_TEXT.get
    parts = [known(row) or _line_text(row) for row in sorted_lines]
    ref = f',"reference":{_s(reference)}' if reference else ""
    at = occurred_at if occurred_at.tzinfo is UTC else occurred_at.astimezone(UTC)
    # An ISO 8601 time is ASCII with nothing to escape: quoted as is.
    return (
        f'{{"kind":{_s(kind)},"lines":[{",".join(parts)}],"occurred_at":"{at.isoformat()}"{ref},"seq":',
        f',"source_event_id":{_s(source_event_id)}}}',
    )
