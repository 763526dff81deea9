"""The ledger's aggregate, the journal chain: commands, its one event, and pure decide and evolve.

The chain's state is where it ends (the last entry's seq and hash) and which facts it has posted. Posting
a batch of entries is one decision: each new entry is linked after the one before it, and the batch is
recorded as one EntriesPosted event, which both the journal (the record) and the projections are written
from. Folding the events with `evolve` gives the chain's state; `balance_changes` folds them into the
balances read model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from quanyi_ledger.domain.chain import GENESIS_HASH, RecordedEntry, link
from quanyi_ledger.domain.journal import JournalEntry


@dataclass(frozen=True)
class Post:
    """Command: post `entry` (which names its source event) for the order or campaign `correlation_id`."""

    entry: JournalEntry
    correlation_id: str = ""


class PostedEntry(NamedTuple):
    """An entry as posted: its place in the chain (`rec`) and what the chain's hash does not cover."""

    rec: RecordedEntry
    memo: str = ""
    correlation_id: str = ""

    @property
    def seq(self) -> int:
        return self.rec.seq


@dataclass(frozen=True)
class EntriesPosted:
    """Event: `entries` were appended at the end of the chain, with consecutive seqs, in seq order."""

    entries: tuple[PostedEntry, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError("EntriesPosted needs at least one entry")

    @property
    def first_seq(self) -> int:
        return self.entries[0].seq

    @property
    def last_seq(self) -> int:
        return self.entries[-1].seq

    @property
    def head(self) -> RecordedEntry:
        return self.entries[-1].rec


@dataclass(frozen=True)
class Chain:
    """The journal chain's state: its last entry (seq 0 and the genesis hash while empty) and the source
    events it has posted.

    Loaded from storage, `posted` holds only those of the sources the caller asked about, which is all
    that `decide` needs; folded from the events, it holds them all.
    """

    seq: int = 0
    hash: str = GENESIS_HASH
    posted: frozenset[str] = field(default_factory=frozenset)


def decide(chain: Chain, commands: Sequence[Post]) -> EntriesPosted | None:
    """The entries of `commands`, in order, linked after the chain's end; None when none is new.

    A command whose source event the chain has posted already, or an earlier command of the same batch
    names, posts nothing: a fact posts at most once, however often it is heard.
    """
    seq, prev_hash = chain.seq, chain.hash
    seen = set(chain.posted)
    posted: list[PostedEntry] = []
    for command in commands:
        source = command.entry.source_event_id
        if source in seen:
            continue
        seen.add(source)
        rec = link(command.entry, seq + 1, prev_hash)
        seq, prev_hash = rec.seq, rec.hash
        posted.append(PostedEntry(rec, command.entry.memo, command.correlation_id))
    return EntriesPosted(tuple(posted)) if posted else None


def evolve(chain: Chain, event: EntriesPosted) -> Chain:
    """The chain after `event`."""
    return Chain(
        seq=event.last_seq,
        hash=event.head.hash,
        posted=chain.posted | {e.rec.source_event_id for e in event.entries},
    )


def fold(events: Iterable[EntriesPosted], chain: Chain | None = None) -> Chain:
    """The chain's state after `events`, from `chain` (the empty chain by default)."""
    state = chain or Chain()
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True)
class AccountBalance:
    """An account's debit and credit totals in one currency, in minor units."""

    account: str
    currency: str
    debit_total: int
    credit_total: int

    @property
    def balance_minor(self) -> int:
        """Debits minus credits."""
        return self.debit_total - self.credit_total


def balance_changes(events: Iterable[EntriesPosted]) -> dict[tuple[str, str], tuple[int, int]]:
    """What `events` add to the balances: (debits, credits) per (account, currency).

    Sums, so the result does not depend on how the events are split into batches or ordered.
    """
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for event in events:
        for entry in event.entries:
            for line in entry.rec.lines:
                key = (line.account, line.currency)
                debit, credit = totals.get(key, (0, 0))
                totals[key] = (debit + line.debit_minor, credit + line.credit_minor)
    return totals


def balances_of(events: Iterable[EntriesPosted]) -> list[AccountBalance]:
    """The balances read model that `events` fold into, ordered by account and currency."""
    return [
        AccountBalance(account, currency, debit, credit)
        for (account, currency), (debit, credit) in sorted(balance_changes(events).items())
    ]
