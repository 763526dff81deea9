"""The hash chain over the journal: each entry's hash covers its content and the previous entry's hash.

hash(n) = sha256(hash(n-1) hex + canonical JSON of (seq, kind, source_event_id, occurred_at, lines
[, reference])), with hash(0) = 64 zeros. A line's SKU and the entry's reference are in the JSON only when
set, so entries posted before they existed keep their hashes. Changing, inserting or removing a recorded
entry breaks the chain at that entry. The memo, correlation id and posting time are not covered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from quanyi_ledger.domain.journal import (
    JournalEntry,
    JournalLine,
    LineRow,
    balanced,
    canonical_text,
    entry_problems,
)

GENESIS_HASH = "0" * 64


class ChainLink(NamedTuple):
    """An entry as the chain covers it (no memo, no correlation), with its lines as plain rows: what
    verification streams from storage and hashes, a million at a time, without building entry objects.
    Not validated: it may have been tampered with."""

    seq: int
    kind: str
    source_event_id: str
    occurred_at: datetime
    lines: tuple[LineRow, ...]
    prev_hash: str
    hash: str
    reference: str = ""

    def expected_hash(self) -> str:
        text = _canonical(
            self.seq, self.kind, self.source_event_id, self.occurred_at, sorted(self.lines), self.reference
        )
        return hashlib.sha256((self.prev_hash + text).encode("utf-8")).hexdigest()


def _line(account: str, currency: str, debit: int, credit: int, sku: str) -> dict[str, object]:
    body: dict[str, object] = {
        "account": account, "currency": currency, "debit_minor": debit, "credit_minor": credit
    }
    if sku:
        body["sku"] = sku
    return body


def canonical(
    seq: int,
    kind: str,
    source_event_id: str,
    occurred_at: datetime,
    lines: Iterable[JournalLine],
    reference: str = "",
) -> str:
    """The entry's content as JSON with sorted keys and lines, independent of line order and time zone:
    exactly `json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)` of the body
    (`canonical_json`), written out directly because it runs for every entry posted and verified."""
    return _canonical(
        seq,
        kind,
        source_event_id,
        occurred_at,
        sorted((ln.account, ln.currency, ln.debit_minor, ln.credit_minor, ln.sku_id) for ln in lines),
        reference,
    )


def _canonical(
    seq: int,
    kind: str,
    source_event_id: str,
    occurred_at: datetime,
    sorted_lines: Iterable[LineRow],
    reference: str,
) -> str:
    head, tail = canonical_text(kind, source_event_id, occurred_at, sorted_lines, reference)
    return f"{head}{int(seq)}{tail}"


def canonical_json(
    seq: int,
    kind: str,
    source_event_id: str,
    occurred_at: datetime,
    lines: Iterable[JournalLine],
    reference: str = "",
) -> str:
    """The definition `canonical` must equal (tested over random entries)."""
    body: dict[str, object] = {
        "seq": seq,
        "kind": kind,
        "source_event_id": source_event_id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "lines": [
            _line(a, c, d, cr, sku)
            for a, c, d, cr, sku in sorted(
                (ln.account, ln.currency, ln.debit_minor, ln.credit_minor, ln.sku_id) for ln in lines
            )
        ],
    }
    if reference:
        body["reference"] = reference
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def chain_hash(
    prev_hash: str,
    seq: int,
    kind: str,
    source_event_id: str,
    occurred_at: datetime,
    lines: Iterable[JournalLine],
    reference: str = "",
) -> str:
    payload = prev_hash + canonical(seq, kind, source_event_id, occurred_at, lines, reference)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class RecordedEntry(NamedTuple):
    """An entry as the journal holds it, at position `seq`. Not validated: it may have been tampered with.
    A NamedTuple (immutable, and made in a third of a frozen dataclass's time): one is made per entry
    posted."""

    seq: int
    kind: str
    source_event_id: str
    occurred_at: datetime
    lines: tuple[JournalLine, ...]
    prev_hash: str
    hash: str
    reference: str = ""

    def expected_hash(self) -> str:
        return chain_hash(
            self.prev_hash,
            self.seq,
            self.kind,
            self.source_event_id,
            self.occurred_at,
            self.lines,
            self.reference,
        )


def link(entry: JournalEntry, seq: int, prev_hash: str) -> RecordedEntry:
    """`entry` placed at `seq`, after the entry whose hash is `prev_hash` (the hash of `chain_hash`, from
    the entry's chain text made once)."""
    head, tail = entry.chain_text
    digest = hashlib.sha256(f"{prev_hash}{head}{seq:d}{tail}".encode()).hexdigest()
    # Positional (seq, kind, source_event_id, occurred_at, lines, prev_hash, hash, reference): one per entry.
    return RecordedEntry(
        seq, entry.kind, entry.source_event_id, entry.occurred_at, entry.lines, prev_hash, digest,
        entry.reference,
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]


class ChainVerifier:
    """Checks recorded entries fed in seq order: consecutive from 1, linked, hashes intact, balanced.

    Each problem is reported at the entry where it is, and checking resumes from that entry, so one
    changed entry gives one problem rather than a cascade. At most `max_problems` are kept.
    """

    def __init__(self, max_problems: int = 100) -> None:
        self._max_problems = max_problems
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH
        self._problems: list[str] = []
        self._omitted = 0
        self.entries = 0

    def problem(self, text: str) -> None:
        if len(self._problems) < self._max_problems:
            self._problems.append(text)
        else:
            self._omitted += 1

    def add(self, rec: RecordedEntry) -> None:
        self._check(rec.seq, rec.prev_hash, rec.hash, rec.expected_hash())
        for p in entry_problems(rec.lines):
            self.problem(f"entry {rec.seq} does not balance: {p}")

    def add_link(self, link: ChainLink) -> None:
        """`add` for an entry streamed as a ChainLink: the same checks and problems."""
        self._check(link.seq, link.prev_hash, link.hash, link.expected_hash())
        if not balanced(link.lines):
            for p in entry_problems(JournalLine(a, d, cr, c, sku) for a, c, d, cr, sku in link.lines):
                self.problem(f"entry {link.seq} does not balance: {p}")

    def _check(self, seq: int, prev_hash: str, hash_hex: str, expected_hash: str) -> None:
        self.entries += 1
        if seq != self._expected_seq:
            if seq == self._expected_seq + 1:
                self.problem(f"entry {self._expected_seq} is missing")
            elif seq > self._expected_seq:
                self.problem(f"entries {self._expected_seq}..{seq - 1} are missing")
            else:
                self.problem(f"entry {seq} is out of order (expected {self._expected_seq})")
        if prev_hash != self._prev_hash:
            self.problem(f"entry {seq} does not link to the entry before it (prev_hash differs)")
        if expected_hash != hash_hex:
            self.problem(f"entry {seq} was changed after it was posted (hash differs)")
        self._expected_seq = seq + 1
        self._prev_hash = hash_hex

    @property
    def last_seq(self) -> int:
        return self._expected_seq - 1

    def result(self) -> Verification:
        problems = list(self._problems)
        if self._omitted:
            problems.append(f"... and {self._omitted} more problem(s)")
        return Verification(ok=not problems, entries=self.entries, problems=tuple(problems))


def verify(entries: Iterable[RecordedEntry]) -> Verification:
    verifier = ChainVerifier()
    for rec in entries:
        verifier.add(rec)
    return verifier.result()
