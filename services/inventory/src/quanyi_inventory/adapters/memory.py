"""Inventory's ports in memory: the fakes the contract suites hold to the same guarantees as Postgres.

The fake store keeps the committed events and the record of keys; every read folds the events (the
domain's `evolve`), so the fakes are what the projections must equal. A unit of work sees its own pending
events and record writes, others see them once it commits. SKU locks are held until the unit of work ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from quanyi_platform.envelope import Envelope, NewEvent, seal
from quanyi_platform.eventstore import ConcurrencyConflict
from quanyi_platform.projection import StoredEvent
from quanyi_platform.uow import EventLog

from quanyi_inventory.adapters.mappers import from_proto, new_events
from quanyi_inventory.adapters.memory_imports import InMemoryKeyImports
from quanyi_inventory.application.ports import (
    Allocations,
    AllocationState,
    Catalogue,
    Context,
    Expiry,
    FoundKey,
    HeldKeys,
    InventoryUnitOfWork,
    KeyVault,
    Pool,
    SealedBatch,
    SealedKeyOfOrder,
    Sku,
    Stock,
)
from quanyi_inventory.domain import allocation, stock
from quanyi_inventory.domain.allocation import Allocation, AvailableKey, Claim, usable
from quanyi_inventory.domain.catalogue import UNLIMITED
from quanyi_inventory.domain.events import (
    FEFO,
    RELEASED,
    VOIDED,
    VOIDED_UNDELIVERED,
    BundleComponent,
    BundleDefined,
    Entitlement,
    Event,
    ExpiredKey,
    HeldKey,
    KeyReserved,
    KeysDelivered,
    KeysExpired,
    KeysImported,
    KeysRedeemed,
    KeysRevealed,
    LowStockThresholdSet,
    PoolCreated,
    PoolPriorityChanged,
    ProductCreated,
    Recorded,
    RefundedKeyRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
    SkuCreated,
)
from quanyi_inventory.domain.key_life import OrderKey, OrderKeys, TakenKey
from quanyi_inventory.domain.sealed import SealedKey, WrappedDataKey
from quanyi_inventory.domain.stock import SkuStock, StockMoves
from quanyi_inventory.projections.stock_daily import day_changes


@dataclass(frozen=True)
class Material:
    """A row of the record of sealed keys."""

    batch_id: str
    key_id: str
    sku_id: str
    fingerprint: bytes
    sealed: SealedKey
    valid_from: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeyState:
    """A key as the `keys` projection holds it."""

    key_id: str
    sku_id: str
    batch_id: str
    unit_cost_minor: int
    currency: str
    order_id: str = ""
    line_no: int = 0
    unit_no: int = 0
    reserved_at: datetime | None = None
    pool_id: str = ""
    state: str = "available"
    channel: str = ""
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    refund_id: str = ""


@dataclass
class View:
    """Everything the projections hold, folded from events (and the record's key rows)."""

    products: dict[str, ProductCreated] = field(default_factory=dict)
    skus: dict[str, SkuCreated] = field(default_factory=dict)
    pools: dict[str, PoolCreated] = field(default_factory=dict)
    stock: dict[str, SkuStock] = field(default_factory=dict)
    keys: dict[str, KeyState] = field(default_factory=dict)
    allocations: dict[str, Allocation] = field(default_factory=dict)
    bundles: dict[str, tuple[BundleComponent, ...]] = field(default_factory=dict)
    entitlements: dict[str, tuple[Entitlement, ...]] = field(default_factory=dict)
    pool_versions: dict[str, int] = field(default_factory=dict)
    sku_versions: dict[str, int] = field(default_factory=dict)
    allocation_versions: dict[str, int] = field(default_factory=dict)
    revealed: set[str] = field(default_factory=set)
    # Projection `refunded_keys`: per order, the keys its refunds took back.
    taken_back: dict[str, dict[str, TakenKey]] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Sequence[StoredEvent], material: Mapping[str, Material]) -> View:
        view = cls()
        by_batch: dict[str, list[Material]] = {}
        for m in material.values():
            by_batch.setdefault(m.batch_id, []).append(m)
        for stored in events:
            event = from_proto(stored.payload)
            if event is not None:
                view.apply(event, stored.occurred_at, by_batch)
        return view

    def apply(self, event: Event, at: datetime, by_batch: Mapping[str, list[Material]]) -> None:
        if isinstance(event, ProductCreated):
            self.products[event.product_id] = event
        elif isinstance(event, BundleDefined):
            if event.components:
                self.bundles[event.sku_id] = event.components
            if event.entitlements:
                self.entitlements[event.sku_id] = event.entitlements
        elif isinstance(event, SkuCreated):
            self.skus[event.sku_id] = event
        elif isinstance(event, PoolCreated):
            self.pools[event.pool_id] = event
        elif isinstance(event, KeysImported):
            for m in by_batch.get(event.batch_id, []):
                self.keys[m.key_id] = KeyState(
                    m.key_id, event.sku_id, event.batch_id, event.unit_cost.minor_units,
                    event.unit_cost.currency, pool_id=event.pool_id, channel=event.channel,
                    valid_from=m.valid_from or event.valid_from, expires_at=m.expires_at or event.expires_at,
                )
        elif isinstance(event, KeyReserved):
            for k in event.keys:
                self.keys[k.key_id] = replace(
                    self.keys[k.key_id], order_id=event.order_id, line_no=k.line_no, unit_no=k.unit_no,
                    reserved_at=at, state="reserved",
                )
        elif isinstance(event, KeysExpired):
            for x in event.keys:
                self.keys[x.key_id] = replace(self.keys[x.key_id], state="expired")
        elif isinstance(event, KeysDelivered | KeysRedeemed | RefundKeysSettled | RefundKeysRefused):
            self.allocation_versions[event.order_id] = self.allocation_versions.get(event.order_id, 1) + 1
            for key, to, refund_id in _moves(event):
                state = self.keys[key.key_id]
                if to in ("available", "recycled"):
                    state = replace(state, order_id="", line_no=0, unit_no=0, reserved_at=None)
                self.keys[key.key_id] = replace(state, state=to, refund_id=refund_id)
            if isinstance(event, RefundKeysSettled):
                taken = self.taken_back.setdefault(event.order_id, {})
                for how, keys in ((RELEASED, event.released), (VOIDED, event.voided),
                                  (VOIDED_UNDELIVERED, event.voided_undelivered)):
                    for held in keys:
                        taken.setdefault(held.key_id, TakenKey(held, event.refund_id, how))
        elif isinstance(event, RefundedKeyRedeemed):
            # The key stays as its refund left it; only the order's stream and the refunded key's row move.
            self.allocation_versions[event.order_id] = self.allocation_versions.get(event.order_id, 1) + 1
            taken = self.taken_back[event.order_id]
            taken[event.key.key_id] = replace(taken[event.key.key_id], redeemed=True)
        elif isinstance(event, KeysRevealed):
            self.revealed.update(event.key_ids)
        elif isinstance(event, PoolPriorityChanged):
            self.pools[event.pool_id] = replace(self.pools[event.pool_id], priority=event.priority)
            self.pool_versions[event.pool_id] = self.pool_versions.get(event.pool_id, 1) + 1
        elif isinstance(event, LowStockThresholdSet):
            self.sku_versions[event.sku_id] = self.sku_versions.get(event.sku_id, 1) + 1
        for sku_id in _skus_of(event):
            evolved = stock.evolve(self.stock.get(sku_id), event)
            if evolved is not None:
                self.stock[sku_id] = evolved
        order_id = getattr(event, "order_id", None)
        if isinstance(order_id, str):
            decided = allocation.evolve(self.allocations.get(order_id), event)
            if decided is not None:
                self.allocations[order_id] = decided


def _moves(
    event: KeysDelivered | KeysRedeemed | RefundKeysSettled | RefundKeysRefused,
) -> list[tuple[HeldKey, str, str]]:
    """(key, its new state, the refund that took it) of each key the event moves."""
    if isinstance(event, KeysDelivered):
        return [(k, "delivered", "") for k in event.keys]
    if isinstance(event, KeysRedeemed):
        return [(k, "redeemed", "") for k in event.keys]
    if isinstance(event, RefundKeysRefused):
        return []
    return [
        *((k, "available", "") for k in event.released),
        *((k, "recycled", event.refund_id) for k in (*event.voided, *event.voided_undelivered)),
        *((k, "redeemed", event.refund_id) for k in event.redeemed),
    ]


def _skus_of(event: Event) -> set[str]:
    if isinstance(event, KeyReserved | KeysExpired | KeysDelivered):
        return {k.sku_id for k in event.keys}
    if isinstance(event, RefundKeysSettled):
        return {k.sku_id for k in (*event.released, *event.voided_undelivered)}
    sku_id = getattr(event, "sku_id", None)
    return {sku_id} if isinstance(sku_id, str) else set()


class InMemoryInventory:
    """The fake store, shared by the fake units of work: committed events and the record of keys."""

    def __init__(self, producer: str = "inventory") -> None:
        self.producer = producer
        self.committed: list[StoredEvent] = []
        self.versions: set[tuple[str, str, int]] = set()
        self.material: dict[str, Material] = {}
        self.data_keys: dict[str, WrappedDataKey] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock_for(self, sku_id: str) -> asyncio.Lock:
        return self._locks.setdefault(sku_id, asyncio.Lock())

    def uow(self) -> InMemoryInventoryUnitOfWork:
        return InMemoryInventoryUnitOfWork(self)


class _Log(EventLog):
    """A unit of work's view of the fake event store: its pending events on top of the committed ones."""

    def __init__(self, store: InMemoryInventory) -> None:
        self._store = store
        self.pending: list[StoredEvent] = []

    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        envs = [seal(e, self._store.producer) for e in events]
        keys = [(e.aggregate_type, e.aggregate_id, int(e.aggregate_version)) for e in envs]
        taken = self._store.versions | {
            (p.envelope.aggregate_type, p.aggregate_id, p.aggregate_version) for p in self.pending
        }
        if len(set(keys)) != len(keys) or any(k in taken for k in keys):
            raise ConcurrencyConflict("aggregate version already appended")
        self.pending.extend(
            StoredEvent(env, ev.payload, ev.occurred_at) for env, ev in zip(envs, events, strict=True)
        )
        return envs


class InMemoryInventoryUnitOfWork(InventoryUnitOfWork):
    def __init__(self, store: InMemoryInventory) -> None:
        self.store = store
        self.log = _Log(store)
        self.events = self.log
        self.material: dict[str, Material] = {}
        self.data_keys: dict[str, WrappedDataKey] = {}
        self.held: list[asyncio.Lock] = []
        self.held_skus: set[str] = set()
        self.catalogue = _Catalogue(self)
        self.stock = _Stock(self)
        self.allocations = _Allocations(self)
        self.held_keys = _HeldKeys(self)
        self.vault = _Vault(self)
        self.expiry = _Expiry(self)
        self.imports = InMemoryKeyImports(self)
        self.committed = False

    # What this unit of work sees.
    def all_events(self) -> list[StoredEvent]:
        return [*self.store.committed, *self.log.pending]

    def all_material(self) -> dict[str, Material]:
        return {**self.store.material, **self.material}

    def all_data_keys(self) -> dict[str, WrappedDataKey]:
        return {**self.store.data_keys, **self.data_keys}

    def view(self) -> View:
        return View.of(self.all_events(), self.all_material())

    async def lock(self, sku_ids: Collection[str]) -> None:
        for sku_id in sorted(set(sku_ids) - self.held_skus):
            lock = self.store.lock_for(sku_id)
            await lock.acquire()
            self.held.append(lock)
            self.held_skus.add(sku_id)

    async def record(
        self,
        changes: Sequence[Recorded],
        context: Context = Context(),
        by_cause: Mapping[str, Context] | None = None,
    ) -> None:
        if changes:
            await self.events.append(new_events(changes, context, by_cause))

    async def commit(self) -> None:
        keys = [(e.envelope.aggregate_type, e.aggregate_id, e.aggregate_version) for e in self.log.pending]
        if any(k in self.store.versions for k in keys):
            await self._end(commit=False)
            raise ConcurrencyConflict("aggregate version already appended")
        for n, e in enumerate(self.log.pending, start=len(self.store.committed) + 1):
            self.store.versions.add((e.envelope.aggregate_type, e.aggregate_id, e.aggregate_version))
            self.store.committed.append(StoredEvent(e.envelope, e.payload, e.occurred_at, n))
        self.store.material.update(self.material)
        self.store.data_keys.update(self.data_keys)
        self._clear()
        self.committed = True
        self._release()

    async def _end(self, commit: bool) -> None:
        self._clear()
        self._release()

    def _clear(self) -> None:
        self.log.pending.clear()
        self.material = {}
        self.data_keys = {}

    def _release(self) -> None:
        for lock in reversed(self.held):
            lock.release()
        self.held.clear()
        self.held_skus.clear()


def _sku(view: View, sku_id: str) -> Sku | None:
    created = view.skus.get(sku_id)
    if created is None:
        return None
    state = view.stock[sku_id]
    parts = view.bundles.get(sku_id, ())
    available = min(view.stock[c.sku_id].available // c.quantity for c in parts) if parts else state.available
    if not parts and sku_id in view.entitlements:
        available = UNLIMITED
    return Sku(
        sku_id, created.product_id, created.name, created.price, state.low_stock_threshold, available,
        view.sku_versions.get(sku_id, 1),
    )


class _Catalogue(Catalogue):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def product_exists(self, product_id: str) -> bool:
        return product_id in self._uow.view().products

    async def sku(self, sku_id: str) -> Sku | None:
        return _sku(self._uow.view(), sku_id)

    async def bundles(self, sku_ids: Collection[str]) -> dict[str, tuple[BundleComponent, ...]]:
        view = self._uow.view()
        return {s: view.bundles.get(s, ()) for s in sku_ids if s in view.bundles or s in view.entitlements}

    async def skus_after(self, after: str, limit: int) -> list[Sku]:
        view = self._uow.view()
        ids = sorted(s for s in view.skus if s > after)[:limit]
        return [s for s in (_sku(view, i) for i in ids) if s is not None]

    async def pool(self, pool_id: str) -> Pool | None:
        view = self._uow.view()
        created = view.pools.get(pool_id)
        if created is None:
            return None
        version = view.pool_versions.get(pool_id, 1)
        return Pool(created.pool_id, created.sku_id, created.name, created.priority, version)

    async def stock_days(self, sku_id: str, first: date, last: date) -> tuple[int, dict[date, StockMoves]]:
        folded = day_changes(self._uow.all_events())
        opening = sum(c.change for (s, d), c in folded.items() if s == sku_id and d < first)
        return opening, {d: c for (s, d), c in folded.items() if s == sku_id and first <= d <= last}


class _Stock(Stock):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def lock(self, sku_ids: Collection[str]) -> dict[str, SkuStock]:
        await self._uow.lock(sku_ids)
        view = self._uow.view()
        return {s: view.stock[s] for s in sorted(set(sku_ids)) if s in view.stock}

    async def hold_claims(self, sku_ids: Collection[str]) -> None:
        # The fake's allocations take the SKU's one lock for their whole unit of work.
        await self._uow.lock(sku_ids)


class _Allocations(Allocations):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def load(
        self, order_ids: Collection[str], needs: Mapping[Claim, int], now: datetime
    ) -> AllocationState:
        view = self._uow.view()
        bundles = {sku: view.bundles[sku] for sku, _ in needs if sku in view.bundles}
        expanded: dict[Claim, int] = {}
        for (sku_id, channel), n in needs.items():
            for part, per_unit in [(c.sku_id, c.quantity) for c in bundles.get(sku_id, ())] or [(sku_id, 1)]:
                expanded[(part, channel)] = expanded.get((part, channel), 0) + n * per_unit
        state = await self._uow.stock.lock({sku for sku, _ in expanded})
        view = self._uow.view()
        decided = {o: view.allocations[o] for o in order_ids if o in view.allocations}
        available: dict[Claim, list[AvailableKey]] = {}
        for (sku_id, channel), n in expanded.items():
            if sku_id not in state:
                continue
            fefo = view.skus[sku_id].allocation_strategy == FEFO
            free = [
                _available(k) for k in view.keys.values()
                if k.sku_id == sku_id and k.state == "available" and usable(_available(k), channel, now)
            ]
            free.sort(key=lambda k: _hand_out_order(view, k, fefo))
            available[(sku_id, channel)] = free[:n]
        entitlements = {sku: view.entitlements[sku] for sku, _ in needs if sku in view.entitlements}
        return AllocationState(
            decided, state, {c: keys for c, keys in available.items() if keys}, bundles, entitlements
        )


def _available(k: KeyState) -> AvailableKey:
    return AvailableKey(
        k.key_id, k.sku_id, k.unit_cost_minor, k.currency, k.pool_id, k.channel, k.valid_from, k.expires_at
    )


def _hand_out_order(view: View, k: AvailableKey, fefo: bool) -> tuple[int, str, int, datetime, str]:
    """Pools by priority then id; in a pool FEFO (never-expiring last) or FIFO; then key id."""
    expiry = k.expires_at if fefo and k.expires_at is not None else _NEVER
    return (view.pools[k.pool_id].priority, k.pool_id, 0, expiry, k.key_id)


_NEVER = datetime.max.replace(tzinfo=UTC)


# Rotations take turns on this lock, as Postgres makes them take turns on the rows of data_keys.
_DATA_KEYS = "\0data_keys"


class _HeldKeys(HeldKeys):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def lock(self, order_ids: Collection[str]) -> dict[str, OrderKeys]:
        view = self._uow.view()
        wanted = [o for o in sorted(set(order_ids)) if o in view.allocations]
        await self._uow.lock([f"order:{o}" for o in wanted])
        out: dict[str, OrderKeys] = {}
        for order_id in wanted:
            held = tuple(
                OrderKey(HeldKey(k.key_id, k.sku_id, k.pool_id, k.line_no, k.unit_no), k.state,
                         k.key_id in view.revealed, bool(k.refund_id))
                for k in sorted(view.keys.values(), key=lambda k: k.key_id)
                if k.order_id == order_id and k.state in ("reserved", "delivered", "redeemed")
            )
            reserved = isinstance(view.allocations[order_id], allocation.Reserved)
            taken = view.taken_back.get(order_id, {})
            out[order_id] = OrderKeys(
                order_id, view.allocation_versions.get(order_id, 1), reserved, held,
                tuple(taken[k] for k in sorted(taken)),
            )
        return out


class _Expiry(Expiry):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def lock_due(self, as_of: datetime, limit: int) -> tuple[list[ExpiredKey], dict[str, SkuStock]]:
        view = self._uow.view()
        due = sorted(
            (k for k in view.keys.values()
             if k.state == "available" and k.expires_at is not None and k.expires_at <= as_of),
            key=lambda k: (k.expires_at or as_of, k.key_id),
        )[:limit]
        if not due:
            return [], {}
        await self._uow.stock.lock({k.sku_id for k in due})
        view = self._uow.view()
        keys = sorted(
            (ExpiredKey(k.key_id, k.sku_id, k.pool_id) for k in due
             if view.keys[k.key_id].state == "available"),
            key=lambda k: k.key_id,
        )
        return keys, {s: view.stock[s] for s in sorted({k.sku_id for k in keys})}


class _Vault(KeyVault):
    def __init__(self, uow: InMemoryInventoryUnitOfWork) -> None:
        self._uow = uow

    async def add_batch(self, sku_id: str, batch: SealedBatch) -> int:
        uow = self._uow
        uow.data_keys[batch.batch_id] = batch.wrapped_data_key
        held = {(m.fingerprint, m.sku_id) for m in uow.all_material().values()}
        stored = 0
        for key_id, fingerprint, ciphertext, nonce in sorted(batch.rows):
            if (fingerprint, sku_id) in held:
                continue
            held.add((fingerprint, sku_id))
            sealed = SealedKey(nonce, ciphertext)
            uow.material[key_id] = Material(batch.batch_id, key_id, sku_id, fingerprint, sealed)
            stored += 1
        return stored

    async def sealed_keys(self, order_id: str, key_ids: Sequence[str]) -> list[SealedKeyOfOrder]:
        view = self._uow.view()
        material = self._uow.all_material()
        data_keys = self._uow.all_data_keys()
        wanted = set(key_ids)
        held = sorted(
            (k for k in view.keys.values() if k.order_id == order_id and (not wanted or k.key_id in wanted)),
            key=lambda k: (k.line_no, k.unit_no),
        )
        return [
            SealedKeyOfOrder(k.key_id, k.sku_id, k.batch_id, material[k.key_id].sealed, data_keys[k.batch_id])
            for k in held
        ]

    async def sealed_keys_of_orders(
        self, asked: Mapping[str, Sequence[str]]
    ) -> dict[str, list[SealedKeyOfOrder]]:
        held = {order_id: await self.sealed_keys(order_id, key_ids) for order_id, key_ids in asked.items()}
        return {order_id: keys for order_id, keys in held.items() if keys}

    async def find(self, fingerprint: bytes) -> FoundKey | None:
        view = self._uow.view()
        candidates = [
            view.keys[m.key_id] for m in self._uow.all_material().values()
            if m.fingerprint == fingerprint and m.key_id in view.keys
        ]
        if not candidates:
            return None
        held = sorted(
            (k for k in candidates if k.reserved_at is not None),
            key=lambda k: (-(k.reserved_at.timestamp() if k.reserved_at else 0.0), k.key_id),
        )
        best = held[0] if held else min(candidates, key=lambda k: k.key_id)
        return FoundKey(best.key_id, best.sku_id, best.order_id)

    async def wrapped_not_by(self, master_key_id: str) -> dict[str, WrappedDataKey]:
        await self._uow.lock([_DATA_KEYS])
        return {
            b: w for b, w in sorted(self._uow.all_data_keys().items()) if w.master_key_id != master_key_id
        }

    async def rewrap(self, wrapped: Mapping[str, WrappedDataKey]) -> None:
        self._uow.data_keys.update(wrapped)
