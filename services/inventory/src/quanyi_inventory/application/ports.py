"""The ports inventory's application talks to, and its Unit of Work.

Each port has a Postgres adapter (`quanyi_inventory.adapters.postgres`) and an in-memory fake
(`quanyi_inventory.adapters.memory`); one contract suite per port (`tests/contracts`) holds both to the
guarantees stated here. Reads come from the projections; the only writes besides events are the record of
imported keys (`KeyVault`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple, Protocol

from quanyi_platform.uow import UnitOfWork

from quanyi_inventory.domain.allocation import Allocation, AvailableKey, Claim
from quanyi_inventory.domain.batches import BatchState
from quanyi_inventory.domain.events import (
    BundleComponent,
    Entitlement,
    ExpiredKey,
    KeyFileImportFinished,
    Recorded,
)
from quanyi_inventory.domain.key_life import OrderKeys
from quanyi_inventory.domain.keyfile import RejectedRow
from quanyi_inventory.domain.money import Money
from quanyi_inventory.domain.sealed import SealedKey, WrappedDataKey
from quanyi_inventory.domain.stock import SkuStock, StockMoves

# -- what the ports hand out ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sku:
    sku_id: str
    product_id: str
    name: str
    price: Money
    low_stock_threshold: int
    available: int
    # The Sku aggregate's version: SkuCreated 1, each LowStockThresholdSet one more.
    version: int = 1


@dataclass(frozen=True)
class Pool:
    pool_id: str
    sku_id: str
    name: str
    priority: int = 0
    # The Pool aggregate's version: PoolCreated 1, each PoolPriorityChanged one more.
    version: int = 1


@dataclass(frozen=True)
class AllocationState:
    """What a batch of paid orders needs to be decided, read at once.

    `decided`: the orders that already have an outcome. `stock`: the current stock of each known SKU of
    the batch. `available`: per (SKU, channel), keys free to claim for it, in hand-out order, at most as
    many as asked. `bundles`: the key components of each bundle SKU of the batch; `entitlements`: its
    points and membership components.
    """

    decided: dict[str, Allocation]
    stock: dict[str, SkuStock]
    available: dict[Claim, list[AvailableKey]]
    bundles: dict[str, tuple[BundleComponent, ...]] = field(default_factory=dict)
    entitlements: dict[str, tuple[Entitlement, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SealedBatch:
    """An import file, validated and encrypted, not stored yet. Holds no plaintext.

    `rows` are (key_id, fingerprint, ciphertext, nonce), each code once.
    """

    batch_id: str
    wrapped_data_key: WrappedDataKey
    rows: list[tuple[str, bytes, bytes, bytes]] = field(repr=False)
    duplicates_in_file: int
    rejected: list[RejectedRow]


@dataclass(frozen=True)
class SealedKeyOfOrder:
    """A key an order holds, sealed, with its batch's wrapped data key."""

    key_id: str
    sku_id: str
    batch_id: str
    sealed: SealedKey
    data_key: WrappedDataKey


@dataclass(frozen=True)
class FoundKey:
    key_id: str
    sku_id: str
    order_id: str


@dataclass(frozen=True)
class Context:
    """The correlation and causation ids events are appended with."""

    correlation_id: str = ""
    causation_id: str = ""


# -- the keyring, as the application uses it -----------------------------------------------------


class Sealer(Protocol):
    def seal(self, key_id: str, code: str, password: str) -> SealedKey: ...


class Opener(Protocol):
    def open(self, key_id: str, sealed: SealedKey) -> tuple[str, str]: ...


class Keys(Protocol):
    """Master keys (`quanyi_inventory.adapters.crypto.Keyring`): wrap, unwrap, fingerprint. No I/O."""

    @property
    def active_id(self) -> str: ...

    def fingerprint(self, code: str) -> bytes: ...

    def new_data_key(self, batch_id: str) -> tuple[Sealer, WrappedDataKey]: ...

    def unwrap(self, wrapped: WrappedDataKey, batch_id: str) -> Opener: ...

    def rewrap(self, wrapped: WrappedDataKey, batch_id: str, to_id: str | None = None) -> WrappedDataKey: ...


# -- ports --------------------------------------------------------------------------------------------


class Catalogue(ABC):
    """Products, SKUs and pools (projections `catalogue` and `stock`)."""

    @abstractmethod
    async def product_exists(self, product_id: str) -> bool:
        """True once ProductCreated for it is appended (in this unit of work or a committed one)."""

    @abstractmethod
    async def sku(self, sku_id: str) -> Sku | None:
        """The SKU with its threshold and its available keys now; None when unknown."""

    @abstractmethod
    async def bundles(self, sku_ids: Collection[str]) -> dict[str, tuple[BundleComponent, ...]]:
        """The key components of each bundle among `sku_ids` (SKUs that are not bundles are left out; a
        bundle of points and memberships only has none)."""

    @abstractmethod
    async def skus_after(self, after: str, limit: int) -> list[Sku]:
        """Up to `limit` SKUs with ids greater than `after`, in id order."""

    @abstractmethod
    async def pool(self, pool_id: str) -> Pool | None:
        """The pool; None when unknown."""

    @abstractmethod
    async def stock_days(self, sku_id: str, first: date, last: date) -> tuple[int, dict[date, StockMoves]]:
        """The SKU's available keys at the start of `first` (the sum of every earlier day's change) and
        the moves of each day from `first` to `last` that had any (projection `stock_daily`)."""


class Stock(ABC):
    """SKUs' stock (aggregate SkuStock, from projection `stock`)."""

    @abstractmethod
    async def lock(self, sku_ids: Collection[str]) -> dict[str, SkuStock]:
        """The current stock of each known SKU of `sku_ids` (unknown ones are left out).

        Until this unit of work ends, no other unit of work locks any of them (it waits), so a decision
        taken on this state sees every change committed before it and none made after it.
        """

    @abstractmethod
    async def hold_claims(self, sku_ids: Collection[str]) -> None:
        """Keep allocations away from the SKUs until this unit of work ends: waits for those in flight
        to end and makes new ones wait. For a change that moves many of a SKU's available keys at once
        (void, restore, move), which must find exactly the keys it counted. Call it before `lock`."""


class Allocations(ABC):
    """Paid orders' allocations (projections `allocations`, `keys`, `stock`)."""

    @abstractmethod
    async def load(
        self, order_ids: Collection[str], needs: Mapping[Claim, int], now: datetime
    ) -> AllocationState:
        """Everything a batch of paid orders needs, in one read: the outcomes already decided for any of
        `order_ids` (a Reserved one with its keys in (line, unit) order); the stock of the SKUs of `needs`
        as last committed (not locked: allocations of one SKU run side by side, and a decision on its
        counts locks it with `Stock.lock` after the append); and for each (SKU, channel) of `needs` up
        to `needs[claim]` keys that may go to an order of that channel at `now` (universal or of that
        channel, valid_from <= now < expires_at), in hand-out order: the SKU's pools by ascending
        priority (then pool id), within a pool oldest first (FIFO, key id) or earliest expiry first
        (FEFO, never-expiring last, then key id).

        Guarantees: a key returned is available and no other unit of work can be handed it until this
        one ends (keys another allocation is claiming are passed over, never waited for); keys reserved
        in this unit of work are not returned; no `Stock.hold_claims` of the SKUs runs meanwhile. The
        same universal key may be returned for two channels of one SKU. A bundle SKU of `needs` stands
        for its components: their keys are claimed (`needs[claim]` times each component's quantity),
        and its definition is returned in `bundles`.
        """


class HeldKeys(ABC):
    """The keys orders hold after their reservation (projections `allocations`, `keys`, `key_reveals`)."""

    @abstractmethod
    async def lock(self, order_ids: Collection[str]) -> dict[str, OrderKeys]:
        """Each of `order_ids` that has an allocation: its Allocation stream's version, whether it was
        reserved keys, and the keys it holds now (reserved, delivered or redeemed; a redeemed key a refund
        took on an override is marked refunded), each with whether it was ever revealed; and the keys its
        refunds took back (projection `refunded_keys`), in key id order, each with its refund, what the
        refund did with it and whether a redemption heard since was recorded (RefundedKeyRedeemed).

        Until this unit of work ends no other unit of work locks those keys (it waits), so a decision on
        this state sees every change committed before it."""


@dataclass(frozen=True)
class ImportJob:
    """A key file import job as inventory recorded it; `outcome` once it is done (or failed)."""

    job_id: str
    pool_id: str
    file_name: str
    actor: str
    status: str
    stage: str
    rows_read: int
    bytes_read: int
    bytes_total: int
    created_at: datetime
    finished_at: datetime | None
    error: str
    outcome: KeyFileImportFinished | None = None


class ImportJobs(ABC):
    """Key file import jobs (projection `key_file_imports`)."""

    @abstractmethod
    async def get(self, job_id: str) -> ImportJob | None:
        """The job with its outcome (bad rows included); None when unknown."""

    @abstractmethod
    async def recent(self, limit: int) -> list[ImportJob]:
        """Up to `limit` jobs, newest first, without their bad rows."""


class KeyVault(ABC):
    """The record of imported keys: sealed keys and wrapped data keys (never a plaintext)."""

    @abstractmethod
    async def add_batch(self, sku_id: str, batch: SealedBatch) -> int:
        """Store the batch's wrapped data key and those of its keys whose code (fingerprint) `sku_id`
        does not hold yet; returns how many keys were stored. The KeysImported appended in the same unit
        of work makes them keys of the SKU."""

    @abstractmethod
    async def sealed_keys(self, order_id: str, key_ids: Sequence[str]) -> list[SealedKeyOfOrder]:
        """The keys `order_id` holds (only those of `key_ids` when not empty), in (line, unit) order."""

    @abstractmethod
    async def sealed_keys_of_orders(
        self, asked: Mapping[str, Sequence[str]]
    ) -> dict[str, list[SealedKeyOfOrder]]:
        """For each order of `asked` (order id -> key ids), the keys it holds, only those of its key ids
        when not empty, in (line, unit) order; an order holding none of them is absent. One read."""

    @abstractmethod
    async def find(self, fingerprint: bytes) -> FoundKey | None:
        """The key with this fingerprint. When several SKUs hold it, a key held by an order wins, the most
        recently reserved first, then the lowest key id."""

    @abstractmethod
    async def wrapped_not_by(self, master_key_id: str) -> dict[str, WrappedDataKey]:
        """The wrapped data keys of every batch not wrapped by `master_key_id`, by batch id; until this
        unit of work ends, no other one re-wraps them."""

    @abstractmethod
    async def rewrap(self, wrapped: Mapping[str, WrappedDataKey]) -> None:
        """Replace these batches' wrapped data keys (the old wrapping is gone once this commits)."""


class StagedRow(NamedTuple):
    """A sealed row of a file import, staged before it is stored. Holds no plaintext. (A tuple: a
    million of them are made per large import, and the store's COPY takes them as they are.)"""

    line: int
    key_id: str
    fingerprint: bytes
    nonce: bytes
    ciphertext: bytes
    face_value_minor: int | None = None
    unit_cost_minor: int | None = None
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    supplier: str = ""


@dataclass(frozen=True)
class StagedCheck:
    """The staged rows' duplicates: counted, and the first `limit` listed with line and reason."""

    duplicates_in_file: int
    duplicates_in_pool: int
    listed: list[RejectedRow]


class KeyImports(ABC):
    """A file import's rows as batch `batch_id` of the record, in this unit of work: staged, checked, then
    completed by `store`. Nothing of it is visible outside the unit of work before it commits, and nothing
    is left of it when it does not."""

    @abstractmethod
    async def stage(self, sku_id: str, batch_id: str, chunks: AsyncIterable[Sequence[StagedRow]]) -> None:
        """Take every row of every chunk (lines ascending), streaming (memory stays flat): the first line
        of each fingerprint that `sku_id` does not hold joins the batch. Imports into one SKU take turns."""

    @abstractmethod
    async def check(self, sku_id: str, batch_id: str, limit: int) -> StagedCheck:
        """Staged lines whose fingerprint an earlier staged line has ("duplicate of line N"), and first
        lines whose fingerprint `sku_id` held before ("already in the pool")."""

    @abstractmethod
    async def store(self, sku_id: str, batch_id: str, wrapped: WrappedDataKey) -> int:
        """Store the batch's wrapped data key; returns how many keys the batch holds."""


class Expiry(ABC):
    """Keys past their expires_at (projections `keys`, `stock`)."""

    @abstractmethod
    async def lock_due(self, as_of: datetime, limit: int) -> tuple[list[ExpiredKey], dict[str, SkuStock]]:
        """Up to `limit` available keys whose expires_at is at or before `as_of`, in key id order, and
        the stock of their SKUs, locked as `Stock.lock` does (SKUs first, then the keys): until this unit
        of work ends no allocation can claim them, and none of them is returned while another holds it."""


@dataclass(frozen=True)
class KeyFilter:
    """Which keys an export selects; empty or None narrows nothing."""

    batch_id: str = ""
    pool_id: str = ""
    state: str = ""
    expires_before: datetime | None = None
    key_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListedKey:
    """A key as an export lists it; `sealed` and `data_key` only when codes were asked for."""

    key_id: str
    batch_id: str
    pool_id: str
    sku_id: str
    state: str
    valid_from: datetime | None
    expires_at: datetime | None
    order_id: str
    sealed: SealedKey | None = None
    data_key: WrappedDataKey | None = None


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    pool_id: str
    sku_id: str
    imported: int
    actor: str
    imported_at: datetime
    file_sha256: str
    file_name: str
    voided: bool
    keys_by_state: dict[str, int]


@dataclass(frozen=True)
class PoolOperation:
    operation_id: str
    at: datetime
    action: str
    actor: str
    pool_id: str
    sku_id: str
    batch_id: str
    keys: int
    detail: str


class Batches(ABC):
    """Import batches and their keys (projections `key_batches`, `keys`, `pool_operations`; the record)."""

    @abstractmethod
    async def load(self, batch_id: str) -> BatchState | None:
        """The batch with its keys counted by state now; None when unknown."""

    @abstractmethod
    async def page(self, pool_id: str, voided_only: bool, before: str, limit: int) -> list[BatchSummary]:
        """Up to `limit` batches with ids below `before` ("" : from the newest), newest first."""

    @abstractmethod
    async def claim_codes(self, batch_id: str, move_id: str, sku_id: str) -> int:
        """Make the codes of the batch's available keys codes of `sku_id` in the record too (so that later
        imports into it find them), unless `sku_id` holds one of them already as another key: then nothing
        is written and the number of such codes is returned (0: done)."""

    @abstractmethod
    async def count(self, selected: KeyFilter) -> int:
        """How many keys the filter selects."""

    @abstractmethod
    async def keys(self, selected: KeyFilter, after: str, limit: int, sealed: bool) -> list[ListedKey]:
        """Up to `limit` selected keys with ids above `after`, in key id order; with their sealed secret
        and their batch's wrapped data key when `sealed`."""

    @abstractmethod
    async def operations(
        self, pool_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[PoolOperation]:
        """Up to `limit` operations (of `pool_id`, or all), newest first, older than `before`."""


class InventoryUnitOfWork(UnitOfWork):
    """One transaction over inventory's event log, its projections (read) and its record of keys."""

    catalogue: Catalogue
    stock: Stock
    allocations: Allocations
    held_keys: HeldKeys
    import_jobs: ImportJobs
    vault: KeyVault
    expiry: Expiry
    imports: KeyImports
    batches: Batches

    @abstractmethod
    async def record(
        self,
        changes: Sequence[Recorded],
        context: Context = Context(),
        by_cause: Mapping[str, Context] | None = None,
    ) -> None:
        """Append the recorded events (in order) in this unit of work; the projections see them at once.
        A change whose `cause` is in `by_cause` gets that context, the others `context`."""
