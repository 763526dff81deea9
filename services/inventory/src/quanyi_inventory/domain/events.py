"""Inventory's events as the domain records them. Standard library only: adapters map them to protobuf.

Every change of inventory's state is one of these, appended to its event store; every table it reads is a
projection of them. `Recorded` is an event with the aggregate it belongs to and its version there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quanyi_inventory.domain.money import Money

FIFO = "fifo"
FEFO = "fefo"
STRATEGIES = (FIFO, FEFO)


@dataclass(frozen=True)
class ClaimedKey:
    """One key claimed for one unit (from 1) of one line (from 1) of an order."""

    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    unit_cost_minor: int
    currency: str
    pool_id: str = ""


@dataclass(frozen=True)
class ShortLine:
    """A line that could not be filled: `available` keys were found for `wanted` units."""

    line_no: int
    sku_id: str
    wanted: int
    available: int


@dataclass(frozen=True)
class ProductCreated:
    product_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class SkuCreated:
    """A SKU joins the catalogue with no stock; `low_stock_threshold` 0 means it is never reported low."""

    sku_id: str
    product_id: str
    name: str
    price: Money
    low_stock_threshold: int
    allocation_strategy: str = FIFO


@dataclass(frozen=True)
class PoolCreated:
    """A key pool of a SKU; the SKU draws from its pools in ascending `priority`, then pool id."""

    pool_id: str
    sku_id: str
    name: str
    priority: int = 0


@dataclass(frozen=True)
class BundleComponent:
    """`quantity` keys of component SKU `sku_id` per unit of a bundle."""

    sku_id: str
    quantity: int


POINTS = "points"
MEMBERSHIP = "membership"
ENTITLEMENT_KINDS = (POINTS, MEMBERSHIP)


@dataclass(frozen=True)
class Entitlement:
    """A bundle's component that is not a key, per unit of the bundle: `points` points worth `value_minor`
    (kind POINTS), or `days` days of membership in `plan` costing the operator `value_minor` (kind
    MEMBERSHIP; 0: nothing). Unlimited: it never makes a bundle short."""

    kind: str
    points: int = 0
    plan: str = ""
    days: int = 0
    value_minor: int = 0
    currency: str = ""


@dataclass(frozen=True)
class ReservedEntitlement:
    """A bundle's points or membership reserved for one unit (numbered on after the line's keys) of a
    line of an order."""

    line_no: int
    unit_no: int
    bundle_sku_id: str
    entitlement: Entitlement


@dataclass(frozen=True)
class BundleDefined:
    """SKU `sku_id` is a bundle of these components' keys and of these points and memberships."""

    sku_id: str
    components: tuple[BundleComponent, ...]
    entitlements: tuple[Entitlement, ...] = ()


@dataclass(frozen=True)
class LowStockThresholdSet:
    """An operator set SKU `sku_id`'s low-stock threshold (version 2 and on of the Sku aggregate); 0 means
    never reported low. The next fall of its available keys to it is reported."""

    sku_id: str
    low_stock_threshold: int


@dataclass(frozen=True)
class PoolPriorityChanged:
    pool_id: str
    sku_id: str
    priority: int


@dataclass(frozen=True)
class KeysImported:
    """A batch was stored: `imported` new keys for `sku_id` (their sealed rows are the batch's record)."""

    batch_id: str
    pool_id: str
    sku_id: str
    imported: int
    duplicates: int
    rejected: int
    unit_cost: Money
    actor: str
    master_key_id: str
    # Universal ("") or the one sales channel the batch's keys are for; the batch's validity window
    # (a key's own row in the record may narrow it; None: no bound).
    channel: str = ""
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    # The file the batch was read from (None: a batch imported before files were recorded).
    source: ImportSource | None = None


@dataclass(frozen=True)
class ImportSource:
    """The file of an import batch: its SHA-256 (hex), name, format, mode, data rows and size."""

    file_sha256: str
    file_name: str
    format: str
    mode: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class ExpiredKey:
    key_id: str
    sku_id: str
    pool_id: str


@dataclass(frozen=True)
class KeysExpired:
    """The sweeper found these available keys past their expires_at at `as_of`: never handed out again."""

    sweep_id: str
    as_of: datetime
    keys: tuple[ExpiredKey, ...]


@dataclass(frozen=True)
class KeyReserved:
    """Every unit of a paid order got its key: `keys` in (line, unit) order, and its bundles' points and
    memberships `entitlements` (in (line, unit) order)."""

    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    keys: tuple[ClaimedKey, ...]
    entitlements: tuple[ReservedEntitlement, ...] = ()
    # When the order was paid; None in records of older releases.
    paid_at: datetime | None = None


@dataclass(frozen=True)
class StockShort:
    """A paid order could not be filled; it holds no key."""

    order_id: str
    lines: tuple[ShortLine, ...]


@dataclass(frozen=True)
class StockLow:
    """A SKU's available keys fell to its threshold (recorded once per episode)."""

    sku_id: str
    available: int
    threshold: int


@dataclass(frozen=True)
class StockLowCleared:
    """An import lifted a SKU reported low above its threshold: its next fall is reported again."""

    sku_id: str
    available: int
    threshold: int


@dataclass(frozen=True)
class KeysRevealed:
    """The audit record of one reveal: who, why, for which order, which keys (ids only)."""

    reveal_id: str
    order_id: str
    key_ids: tuple[str, ...]
    actor: str
    purpose: str
    on_behalf_of: str = ""


@dataclass(frozen=True)
class KeysRevealRefused:
    """The audit record of a refused reveal: who (authenticated identity, "" for none) asked, for what."""

    attempt_id: str
    order_id: str
    identity: str
    on_behalf_of: str
    purpose: str
    reason: str


@dataclass(frozen=True)
class RewrappedBatch:
    batch_id: str
    previous_master_key_id: str


@dataclass(frozen=True)
class DataKeysRewrapped:
    """A rotation re-wrapped these batches' data keys under `master_key_id`."""

    rotation_id: str
    master_key_id: str
    batches: tuple[RewrappedBatch, ...]
    actor: str


@dataclass(frozen=True)
class BatchVoided:
    """The batch's `keys` available keys went to the recycle bin (state void)."""

    batch_id: str
    pool_id: str
    sku_id: str
    keys: int
    actor: str
    reason: str


@dataclass(frozen=True)
class BatchRestored:
    """The batch's `keys` voided keys are available again."""

    batch_id: str
    pool_id: str
    sku_id: str
    keys: int
    actor: str


@dataclass(frozen=True)
class KeysMoved:
    """The batch's `keys` available keys left pool `from_pool_id` for `to_pool_id`."""

    batch_id: str
    from_pool_id: str
    from_sku_id: str
    to_pool_id: str
    to_sku_id: str
    keys: int
    actor: str


@dataclass(frozen=True)
class KeysExported:
    """Audit of an export with codes: who, which filter ("" / None: any), how many keys."""

    export_id: str
    actor: str
    batch_id: str
    pool_id: str
    state: str
    expires_before: datetime | None
    keys: int


@dataclass(frozen=True)
class HeldKey:
    """A key an order holds, as a change of its state names it (never the key itself)."""

    key_id: str
    sku_id: str
    pool_id: str
    line_no: int
    unit_no: int


@dataclass(frozen=True)
class KeysDelivered:
    """Fulfillment delivered these reserved keys of the order (reserved -> delivered)."""

    order_id: str
    keys: tuple[HeldKey, ...]
    delivery_event_id: str = ""


@dataclass(frozen=True)
class KeysRedeemed:
    """A partner redeemed these delivered keys of the order (delivered -> redeemed)."""

    order_id: str
    keys: tuple[HeldKey, ...]
    partner: str
    redeemed_at: datetime | None = None


@dataclass(frozen=True)
class RefundKeysSettled:
    """What a refund did to the keys of its units: `released` (reserved, never revealed) are available
    again; `voided` (delivered) and `voided_undelivered` (reserved but revealed) are recycled, never sold
    again; `redeemed` stay redeemed, refunded on the operator's override."""

    order_id: str
    refund_id: str
    released: tuple[HeldKey, ...]
    voided: tuple[HeldKey, ...]
    voided_undelivered: tuple[HeldKey, ...]
    redeemed: tuple[HeldKey, ...]
    actor: str
    override_redeemed: bool = False
    note: str = ""


@dataclass(frozen=True)
class RefundKeysRefused:
    """A refund whose keys cannot be settled (a redeemed key without override, too few keys held)."""

    order_id: str
    refund_id: str
    reason: str
    actor: str = ""


#: What a refund did with a key it took back (RefundedKeyRedeemed.taken).
RELEASED = "released"
VOIDED = "voided"
VOIDED_UNDELIVERED = "voided_undelivered"


@dataclass(frozen=True)
class RefundedKeyRedeemed:
    """Fulfillment reported a redemption of a key that refund `refund_id` of the order had already taken
    back (`taken`: voided, voided_undelivered or released): the buyer was refunded and the key used all the
    same. Recorded once per key; the key stays as the refund left it."""

    order_id: str
    key: HeldKey
    refund_id: str
    taken: str
    partner: str
    redeemed_at: datetime | None
    redemption_event_id: str


@dataclass(frozen=True)
class KeyFileImportStarted:
    """A key file import job began (its file received): version 1 of its KeyFileImport stream."""

    job_id: str
    pool_id: str
    file_name: str
    actor: str
    bytes_total: int


@dataclass(frozen=True)
class KeyFileImportProgressed:
    job_id: str
    stage: str
    rows_read: int
    bytes_read: int


@dataclass(frozen=True)
class ImportBadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class KeyFileImportFinished:
    """A job ended: its outcome, or (`failed`) why not."""

    job_id: str
    failed: bool
    error: str = ""
    batch_id: str = ""
    imported: int = 0
    duplicates_in_file: int = 0
    duplicates_in_pool: int = 0
    rejected: int = 0
    rows: int = 0
    file_sha256: str = ""
    aborted: bool = False
    bad_rows: tuple[ImportBadRow, ...] = ()


Event = (
    ProductCreated
    | SkuCreated
    | PoolCreated
    | KeysImported
    | KeyReserved
    | StockShort
    | StockLow
    | StockLowCleared
    | KeysRevealed
    | DataKeysRewrapped
    | PoolPriorityChanged
    | LowStockThresholdSet
    | KeysExpired
    | BatchVoided
    | BatchRestored
    | KeysExported
    | KeysMoved
    | KeysRevealRefused
    | BundleDefined
    | KeysDelivered
    | KeysRedeemed
    | RefundKeysSettled
    | RefundKeysRefused
    | RefundedKeyRedeemed
    | KeyFileImportStarted
    | KeyFileImportProgressed
    | KeyFileImportFinished
)

# Aggregate types, as they appear in the event store's envelopes.
PRODUCT = "Product"
SKU = "Sku"
POOL = "Pool"
KEY_BATCH = "KeyBatch"
KEY_EXPORT = "KeyExport"
ALLOCATION = "Allocation"
SKU_STOCK = "SkuStock"
KEY_REVEAL = "KeyReveal"
KEY_ROTATION = "KeyRotation"
EXPIRY_SWEEP = "ExpirySweep"
BUNDLE = "Bundle"
KEY_FILE_IMPORT = "KeyFileImport"


@dataclass(frozen=True)
class Recorded:
    """An event as an aggregate recorded it: version `version` of (`aggregate_type`, `aggregate_id`).

    `cause` names what the event answers within a batch (the order id of a paid order), so the
    application can give it that command's correlation and causation ids.
    """

    aggregate_type: str
    aggregate_id: str
    version: int
    event: Event
    cause: str = ""
