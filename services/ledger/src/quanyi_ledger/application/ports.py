"""The ports the ledger's application talks to, and its Unit of Work.

Each port has a Postgres adapter (`quanyi_ledger.adapters.postgres`) and an in-memory fake
(`quanyi_ledger.adapters.memory`); one contract suite (`services/ledger/tests/contracts`) holds both to
the guarantees stated here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from quanyi_platform.uow import UnitOfWork

from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry
from quanyi_ledger.domain.posting import OrderBook


class JournalRefused(Exception):
    """The journal refused entries: they do not extend the chain, do not balance, or post a fact twice."""


class Journal(ABC):
    """The journal, the ledger's record: hash-chained, append-only entries with their lines."""

    @abstractmethod
    async def load(self, sources: Sequence[str]) -> Chain:
        """Where the chain ends, and which of `sources` (source event ids) it has posted, in one read.

        Guarantees: from this call until the unit of work ends, no other unit of work loads or appends,
        so the chain cannot fork; the state includes entries appended earlier in this unit of work.
        """

    @abstractmethod
    async def append(self, event: EntriesPosted) -> None:
        """Append the event's entries and their lines, in one write.

        Raises JournalRefused, appending nothing, when the first entry does not follow the chain's end
        (seq and prev_hash), the entries are not linked one to the next, an entry has fewer than two
        lines or does not balance in a currency, or a source event is posted already. The entries
        become permanent with the unit of work; nothing can change or remove them afterwards.
        """

    @abstractmethod
    def entries(self, after: int = 0) -> AsyncIterator[PostedEntry]:
        """Every entry with seq > `after`, with its lines, in seq order, as recorded (which, if someone
        tampered with the storage, may no longer verify)."""

    @abstractmethod
    async def order_books(self, order_ids: Sequence[str]) -> dict[str, OrderBook]:
        """What the journal says of each of `order_ids` (posting.book_of over the entries correlated with
        it, in seq order); orders without entries are left out. Sees this unit of work's appends."""

    @abstractmethod
    async def totals(self) -> list[AccountBalance]:
        """Debit and credit totals per account and currency, summed from the journal's own lines,
        ordered by account and currency."""

    @abstractmethod
    async def announced_seq(self) -> int:
        """The last entry seq an EntriesPosted event has announced (0 when none): where the chain ends
        according to the event store."""


class Balances(ABC):
    """The balances read model (the `balances` projection of EntriesPosted)."""

    @abstractmethod
    async def list(self, account_prefix: str = "") -> list[AccountBalance]:
        """Every account's totals in each currency, ordered by account and currency; only accounts that
        start with `account_prefix` (taken literally, not as a pattern) when it is given. Includes the
        events appended earlier in this unit of work."""


class LedgerUnitOfWork(UnitOfWork):
    """One transaction over the ledger's journal, its event log and its read models."""

    journal: Journal
    balances: Balances

    @abstractmethod
    async def read_consistently(self) -> None:
        """Make every read of this unit of work see one consistent snapshot, and refuse writes. Call it
        first, before any read."""
