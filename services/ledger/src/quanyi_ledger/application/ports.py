"""The ports the ledger's application talks to, and its Unit of Work.

Each port has a Postgres adapter (`quanyi_ledger.adapters.postgres`) and an in-memory fake
(`quanyi_ledger.adapters.memory`); one contract suite (`services/ledger/tests/contracts`) holds both to
the guarantees stated here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from quanyi_platform.uow import UnitOfWork

from quanyi_ledger.domain.chain import ChainLink
from quanyi_ledger.domain.ledger import AccountBalance, Chain, EntriesPosted, PostedEntry
from quanyi_ledger.domain.posting import OrderBook
from quanyi_ledger.domain.reconciliation import LedgerTxn, RowKind
from quanyi_ledger.domain.reports import ReportQuery, ReportRow


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
    async def append(self, event: EntriesPosted, while_writing: Callable[[], None] | None = None) -> None:
        """Append the event's entries and their lines, in one write.

        Raises JournalRefused, appending nothing, when the first entry does not follow the chain's end
        (seq and prev_hash), the entries are not linked one to the next, an entry has fewer than two
        lines or does not balance in a currency, or a source event is posted already. The entries
        become permanent with the unit of work; nothing can change or remove them afterwards.

        `while_writing`, when given, is called once while the storage writes (work that does not use the
        unit of work, done meanwhile instead of after), whether or not the write succeeds.
        """

    @abstractmethod
    def entries(self, after: int = 0) -> AsyncIterator[PostedEntry]:
        """Every entry with seq > `after`, with its lines, in seq order, as recorded (which, if someone
        tampered with the storage, may no longer verify)."""

    @abstractmethod
    def chain_pages(self) -> AsyncIterator[Sequence[ChainLink]]:
        """Every entry as the hash chain covers it (its lines as rows, no memo or correlation), in seq order,
        a page at a time, as recorded: what verification streams and hashes. Lines that name no entry are
        left out, as by `entries`."""

    @abstractmethod
    async def order_books(self, order_ids: Sequence[str]) -> dict[str, OrderBook]:
        """What the journal says of each of `order_ids` (posting.book_of over the entries correlated with
        it, in seq order); orders without entries are left out. Sees this unit of work's appends."""

    @abstractmethod
    async def totals(self, as_of: datetime | None = None) -> list[AccountBalance]:
        """Debit and credit totals per account and currency, summed from the journal's own lines,
        ordered by account and currency; with `as_of`, only of entries whose facts happened at or before
        it (a trial balance at that instant)."""

    @abstractmethod
    async def report(self, query: ReportQuery) -> list[ReportRow]:
        """reports.report over the journal: the same rows in the same order, summed by the storage."""

    @abstractmethod
    async def txns(
        self, provider: str, keys: Sequence[str], start: datetime, end: datetime
    ) -> tuple[dict[str, LedgerTxn], list[LedgerTxn]]:
        """The provider's payments (by provider transaction id) and paid refunds (by refund id) that
        `keys` name, whenever posted; and all of them whose facts happened in [start, end)."""

    @abstractmethod
    async def find(self, correlation_id: str = "", reference: str = "") -> list[PostedEntry]:
        """The entries correlated with `correlation_id` or whose reference is `reference` (either
        condition, whichever is given), in seq order."""

    @abstractmethod
    async def hash_at(self, seq: int) -> str | None:
        """The recorded hash of entry `seq`, or None when there is no such entry."""

    @abstractmethod
    async def head(self) -> tuple[int, str]:
        """The last entry's seq and hash, without taking the posting lock ((0, genesis) when empty)."""

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


@dataclass(frozen=True)
class MismatchRecord:
    """A reconciliation mismatch as the operations list shows it."""

    mismatch_id: str
    statement_id: str
    provider: str
    kind: int  # reconciliation.MismatchKind value
    txn_kind: RowKind
    key: str
    order_id: str
    ledger_minor: int
    statement_minor: int
    currency: str
    detail: str
    found_at: datetime
    resolved_by: str = ""
    resolved_at: datetime | None = None
    note: str = ""
    adjustment_minor: int = 0

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


class Reconciliations(ABC):
    """The reconciliation read models (projections of StatementReconciled, ReconciliationMismatch and
    MismatchResolved)."""

    @abstractmethod
    async def reconciled(self, statement_id: str) -> bool:
        """Whether the run `statement_id` was recorded (this unit of work's appends included)."""

    @abstractmethod
    async def mismatch(self, mismatch_id: str) -> MismatchRecord | None:
        """The mismatch, or None."""

    @abstractmethod
    async def mismatches(
        self,
        include_resolved: bool = False,
        limit: int | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[MismatchRecord]:
        """The open mismatches (and the resolved ones too when asked), oldest first (then by mismatch id):
        at most `limit` (None: all), found after `after` (found_at, mismatch_id) when given."""


class Catalogue(ABC):
    """What the ledger asks the catalogue (inventory): which product each SKU belongs to."""

    @abstractmethod
    async def products_of(self, sku_ids: Sequence[str]) -> dict[str, str]:
        """SKU -> product for those of `sku_ids` the catalogue knows."""


class Signer(ABC):
    """The ledger's signing key (Ed25519)."""

    @property
    @abstractmethod
    def public_key_hex(self) -> str:
        """The public key that verifies the signatures, hex (32 bytes)."""

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        """The signature of `message` (64 bytes)."""


class LedgerUnitOfWork(UnitOfWork):
    """One transaction over the ledger's journal, its event log and its read models."""

    journal: Journal
    balances: Balances
    reconciliations: Reconciliations

    @abstractmethod
    async def read_consistently(self) -> None:
        """Make every read of this unit of work see one consistent snapshot, and refuse writes. Call it
        first, before any read."""
