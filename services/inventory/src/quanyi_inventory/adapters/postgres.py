"""Inventory's ports on Postgres: reads of the projections, the record of imported keys, the unit of work.

Every statement names tables unqualified (the pool's search path is the service's schema).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from psycopg import errors
from quanyi_platform.consumer import TransientError
from quanyi_platform.eventstore import EventStore
from quanyi_platform.uow import PgUnitOfWork

from quanyi_inventory.adapters.mappers import new_events
from quanyi_inventory.adapters.pg_batches import PgBatches
from quanyi_inventory.adapters.pg_imports import PgKeyImports
from quanyi_inventory.application.ports import (
    Allocations,
    AllocationState,
    Catalogue,
    Context,
    Expiry,
    FoundKey,
    HeldKeys,
    ImportJob,
    ImportJobs,
    InventoryUnitOfWork,
    KeyVault,
    Pool,
    SealedBatch,
    SealedKeyOfOrder,
    Sku,
    Stock,
)
from quanyi_inventory.domain.allocation import Allocation, AvailableKey, Claim, Reserved, Short
from quanyi_inventory.domain.catalogue import UNLIMITED
from quanyi_inventory.domain.events import (
    BundleComponent,
    ClaimedKey,
    Entitlement,
    ExpiredKey,
    HeldKey,
    ImportBadRow,
    KeyFileImportFinished,
    Recorded,
    ShortLine,
)
from quanyi_inventory.domain.key_life import OrderKey, OrderKeys, TakenKey
from quanyi_inventory.domain.money import Money
from quanyi_inventory.domain.sealed import SealedKey, WrappedDataKey
from quanyi_inventory.domain.stock import SkuStock, StockMoves

# A bundle's availability is that of its scarcest component: whole bundles its components' keys make.
# Points and memberships are unlimited.
_SKU = (
    "SELECT s.sku_id, s.product_id, s.name, s.price_minor, s.currency, st.low_stock_threshold,"
    " st.threshold_version,"
    " coalesce(b.available, e.available, st.available) AS available"
    " FROM skus s JOIN sku_stock st ON st.sku_id = s.sku_id"
    " LEFT JOIN LATERAL (SELECT min(cs.available / bc.quantity) AS available FROM bundle_components bc"
    " JOIN sku_stock cs ON cs.sku_id = bc.component_sku_id WHERE bc.bundle_sku_id = s.sku_id) b ON true"
    # A bundle of points and memberships only is unlimited.
    f" LEFT JOIN LATERAL (SELECT {UNLIMITED}::bigint AS available FROM bundle_entitlements be"
    " WHERE be.bundle_sku_id = s.sku_id LIMIT 1) e ON true"
)


def _sku(row: Any) -> Sku:
    return Sku(
        row["sku_id"], row["product_id"], row["name"], Money(row["price_minor"], row["currency"]),
        int(row["low_stock_threshold"]), int(row["available"]), int(row["threshold_version"]),
    )


def _stock(row: Any) -> SkuStock:
    return SkuStock(
        row["sku_id"], int(row["low_stock_threshold"]), int(row["available"]), int(row["reserved"]),
        bool(row["low_stock_alerted"]), int(row["stock_version"]),
    )


class PgCatalogue(Catalogue):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def product_exists(self, product_id: str) -> bool:
        cur = await self._conn.execute("SELECT 1 FROM products WHERE product_id = %s", (product_id,))
        return await cur.fetchone() is not None

    async def sku(self, sku_id: str) -> Sku | None:
        cur = await self._conn.execute(_SKU + " WHERE s.sku_id = %s", (sku_id,))
        row = await cur.fetchone()
        return None if row is None else _sku(row)

    async def bundles(self, sku_ids: Collection[str]) -> dict[str, tuple[BundleComponent, ...]]:
        # A bundle of points and memberships only has no key component: it is a bundle of none.
        cur = await self._conn.execute(
            "SELECT bundle_sku_id, component_sku_id, quantity, position FROM bundle_components"
            " WHERE bundle_sku_id = ANY(%(s)s::text[]) UNION ALL SELECT DISTINCT bundle_sku_id, NULL::text,"
            " NULL::int, 0 FROM bundle_entitlements WHERE bundle_sku_id = ANY(%(s)s::text[]) ORDER BY 1, 4",
            {"s": sorted(set(sku_ids))},
        )
        found: dict[str, list[BundleComponent]] = {}
        for r in await cur.fetchall():
            parts = found.setdefault(r["bundle_sku_id"], [])
            if r["component_sku_id"] is not None:
                parts.append(BundleComponent(r["component_sku_id"], int(r["quantity"])))
        return {sku: tuple(parts) for sku, parts in found.items()}

    async def skus_after(self, after: str, limit: int) -> list[Sku]:
        cur = await self._conn.execute(
            _SKU + " WHERE s.sku_id > %s ORDER BY s.sku_id LIMIT %s", (after, limit)
        )
        return [_sku(r) for r in await cur.fetchall()]

    async def pool(self, pool_id: str) -> Pool | None:
        cur = await self._conn.execute(
            "SELECT pool_id, sku_id, name, priority, version FROM pools WHERE pool_id = %s", (pool_id,)
        )
        row = await cur.fetchone()
        return None if row is None else Pool(
            row["pool_id"], row["sku_id"], row["name"], int(row["priority"]), int(row["version"])
        )

    async def stock_days(self, sku_id: str, first: date, last: date) -> tuple[int, dict[date, StockMoves]]:
        # One statement: the opening (every earlier day's change, NULL day) and the range's rows.
        cur = await self._conn.execute(
            "SELECT NULL::date AS day, coalesce(sum(imported - reserved + released - expired - voided"
            " + moved), 0)::bigint AS imported, 0::bigint AS reserved, 0::bigint AS released,"
            " 0::bigint AS expired, 0::bigint AS voided, 0::bigint AS moved"
            " FROM stock_daily WHERE sku_id = %(s)s AND day < %(f)s"
            " UNION ALL SELECT day, imported, reserved, released, expired, voided, moved FROM stock_daily"
            " WHERE sku_id = %(s)s AND day BETWEEN %(f)s AND %(l)s",
            {"s": sku_id, "f": first, "l": last},
        )
        opening, days = 0, {}
        for r in await cur.fetchall():
            if r["day"] is None:
                opening = int(r["imported"])
            else:
                days[r["day"]] = StockMoves(
                    int(r["imported"]), int(r["reserved"]), int(r["released"]), int(r["expired"]),
                    int(r["voided"]), int(r["moved"]),
                )
        return opening, days


# The prefix of a SKU's claim lock (an advisory lock on hashtextextended(CLAIMS_LOCK || sku_id, 0)):
# allocations hold it shared, Stock.hold_claims exclusively.
CLAIMS_LOCK = "quanyi.sku-claims:"


class PgStock(Stock):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def hold_claims(self, sku_ids: Collection[str]) -> None:
        # In id order, as allocations take them (shared), so the two never wait for each other in a cycle.
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s || s, 0))"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS u(s, n) ORDER BY n",
            (CLAIMS_LOCK, sorted(set(sku_ids))),
        )

    async def lock(self, sku_ids: Collection[str]) -> dict[str, SkuStock]:
        # In id order, so two units of work locking overlapping SKUs never wait for each other in a cycle.
        cur = await self._conn.execute(
            "SELECT sku_id, low_stock_threshold, available, reserved, low_stock_alerted, stock_version"
            " FROM sku_stock WHERE sku_id = ANY(%s::text[]) ORDER BY sku_id FOR UPDATE",
            (sorted(set(sku_ids)),),
        )
        return {r["sku_id"]: _stock(r) for r in await cur.fetchall()}


# One round trip for a whole batch of paid orders. `stock` reads the batch's SKUs (in id order) and takes
# each one's claim lock in shared mode: allocations of one SKU run side by side, and only a change that
# moves a SKU's keys wholesale (void, restore, move: Stock.hold_claims) waits for them and keeps new ones
# out. The claim then takes, per (SKU, channel), the first keys in hand-out order that may go to that
# channel now: the SKU's pools by priority, and within a pool the FIFO or the FEFO branch (the other one is
# switched off by its constant condition, so each scan follows its own index). FOR UPDATE SKIP LOCKED
# passes over keys that a concurrent allocation is claiming, so no key goes to two units of work and none
# waits for another (a key claimed and committed meanwhile fails the re-check of `state` and is skipped).
# The stock counts read here are not locked: StockLow is decided on the locked row after the append.
# Keys held by the batch's orders come back too, for orders decided before.
_KEY_COLUMNS = "key_id, sku_id, pool_id, currency, unit_cost_minor, channel, valid_from, expires_at"
_USABLE = (
    "keys.pool_id = p.pool_id AND state = 'available' AND channel IN ('', need.channel)"
    " AND (valid_from IS NULL OR valid_from <= %(now)s) AND (expires_at IS NULL OR expires_at > %(now)s)"
)
_LOAD_FOR_ALLOCATION = f"""
WITH stock AS MATERIALIZED (
    -- A volatile function in the target list runs after the sort: the locks are taken in id order.
    SELECT sku_id, low_stock_threshold, available, reserved, low_stock_alerted, stock_version,
           pg_advisory_xact_lock_shared(hashtextextended(%(claims_lock)s || sku_id, 0)) AS claims_held
    FROM sku_stock WHERE sku_id IN (
        SELECT coalesce(bc.component_sku_id, x.sku_id) FROM unnest(%(skus)b::text[]) AS x(sku_id)
        LEFT JOIN bundle_components bc ON bc.bundle_sku_id = x.sku_id
    ) ORDER BY sku_id
), asked AS (
    SELECT * FROM unnest(%(claim_skus)b::text[], %(channels)b::text[], %(counts)b::int[])
        AS n(sku_id, channel, n)
), expanded AS (
    -- A bundle's units are its components' keys; a SKU asked for directly and through a bundle is one
    -- claim of the sum.
    SELECT coalesce(bc.component_sku_id, a.sku_id) AS sku_id, a.channel,
           sum(a.n * coalesce(bc.quantity, 1))::int AS n
    FROM asked a LEFT JOIN bundle_components bc ON bc.bundle_sku_id = a.sku_id
    GROUP BY 1, 2
), need AS (
    SELECT e.sku_id, e.channel, e.n, s.allocation_strategy = 'fefo' AS fefo
    FROM expanded e JOIN skus s ON s.sku_id = e.sku_id
)
SELECT 'stock' AS kind, sku_id AS id, NULL::text AS t1, NULL::text AS t2, NULL::text AS t3,
       NULL::text AS t4, NULL::text AS t5, NULL::timestamptz AS ts1, NULL::timestamptz AS ts2,
       low_stock_threshold AS n1, available AS n2, reserved AS n3, stock_version AS n4,
       low_stock_alerted AS flag, NULL::jsonb AS j
FROM stock
UNION ALL
SELECT 'decided', a.order_id, a.outcome, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       a.short_lines
-- One probe of the primary key per order (LIMIT 1 keeps the subquery apart): `order_id = ANY(...)` on
-- the table was planned as a sequential scan whenever its statistics were older than its growth.
FROM unnest(%(orders)b::text[]) AS o(order_id)
CROSS JOIN LATERAL (SELECT * FROM allocations WHERE order_id = o.order_id LIMIT 1) a
UNION ALL
SELECT 'bundle', bundle_sku_id, component_sku_id, NULL, NULL, NULL, NULL, NULL, NULL, position, quantity,
       NULL, NULL, NULL, NULL
FROM bundle_components WHERE bundle_sku_id = ANY(%(skus)b::text[])
UNION ALL
SELECT 'entitle', bundle_sku_id, kind, plan, currency, NULL, NULL, NULL, NULL, position, days, points,
       value_minor, NULL, NULL
FROM bundle_entitlements WHERE bundle_sku_id = ANY(%(skus)b::text[])
UNION ALL
SELECT 'held', key_id, sku_id, currency, order_id, pool_id, NULL, NULL, NULL, line_no, unit_no,
       unit_cost_minor, NULL, NULL, NULL
FROM keys WHERE order_id = ANY(%(orders)b::text[])
UNION ALL
SELECT 'claim', c.key_id, c.sku_id, c.currency, need.channel, c.pool_id, c.channel, c.valid_from,
       c.expires_at, c.priority, c.rank, c.unit_cost_minor, NULL, need.fefo, NULL
FROM need JOIN stock ON stock.sku_id = need.sku_id
CROSS JOIN LATERAL (
    SELECT p.priority, k.*,
           row_number() OVER (ORDER BY p.priority, p.pool_id,
                              CASE WHEN need.fefo THEN k.expires_at END NULLS LAST, k.key_id) AS rank
    FROM pools p
    CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT {_KEY_COLUMNS} FROM keys WHERE need.fefo AND {_USABLE}
            ORDER BY expires_at, key_id LIMIT need.n FOR UPDATE SKIP LOCKED
        ) fefo
        UNION ALL
        SELECT * FROM (
            SELECT {_KEY_COLUMNS} FROM keys WHERE NOT need.fefo AND {_USABLE}
            ORDER BY key_id LIMIT need.n FOR UPDATE SKIP LOCKED
        ) fifo
    ) k
    WHERE p.sku_id = need.sku_id
    ORDER BY rank
    LIMIT need.n
) c
"""


# The same load, waiting for keys other allocations hold instead of passing over them.
_LOAD_WAITING = _LOAD_FOR_ALLOCATION.replace("FOR UPDATE SKIP LOCKED", "FOR UPDATE")


class PgAllocations(Allocations):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def load(
        self, order_ids: Collection[str], needs: Mapping[Claim, int], now: datetime
    ) -> AllocationState:
        claims = sorted(needs)
        params = {
            "claims_lock": CLAIMS_LOCK,
            "skus": sorted({sku for sku, _ in claims}),
            "claim_skus": [sku for sku, _ in claims],
            "channels": [channel for _, channel in claims],
            "counts": [needs[c] for c in claims],
            "orders": sorted(set(order_ids)),
            "now": now,
        }
        # The first pass passes over keys a concurrent allocation holds. When it finds fewer keys than
        # asked, those may yet come back (that allocation may roll back), so the keys it took are released
        # (back to the savepoint) and a second pass waits for the held ones in hand-out order: waiting
        # allocations then hold nothing taken out of order, so they never wait for each other in a cycle.
        # Planned afresh each time (prepare=False), never as a generic plan: psycopg prepares a statement
        # after five runs, and a generic plan made while `allocations` was small kept a sequential scan of
        # it (each decided order compared with the batch's ids) for the connection's life: 37 ms of a
        # batch's load at 55,000 orders decided. Planning it costs ~0.5 ms. The savepoint goes in the same
        # round trip (a pipeline).
        async with self._conn.pipeline():
            await self._conn.execute("SAVEPOINT allocation_claim", prepare=False)
            cur = await self._conn.execute(_LOAD_FOR_ALLOCATION, params, prepare=False)
        state = self._state(await cur.fetchall())
        if _fewer_than_asked(state, needs):
            await self._conn.execute("ROLLBACK TO SAVEPOINT allocation_claim")
            try:
                cur = await self._conn.execute(_LOAD_WAITING, params, prepare=False)
            except errors.DeadlockDetected as exc:  # claims of several SKUs scanned in other orders
                raise TransientError("two allocations waited for each other's keys") from exc
            state = self._state(await cur.fetchall())
        return state

    @staticmethod
    def _state(rows: Sequence[Any]) -> AllocationState:
        stock: dict[str, SkuStock] = {}
        outcomes: dict[str, Any] = {}
        held: dict[str, list[ClaimedKey]] = {}
        ranked: dict[Claim, list[tuple[int, AvailableKey]]] = {}
        parts: dict[str, list[tuple[int, BundleComponent]]] = {}
        extras: dict[str, list[tuple[int, Entitlement]]] = {}
        for r in rows:
            kind = r["kind"]
            if kind == "stock":
                stock[r["id"]] = SkuStock(
                    r["id"], int(r["n1"]), int(r["n2"]), int(r["n3"]), bool(r["flag"]), int(r["n4"])
                )
            elif kind == "decided":
                outcomes[r["id"]] = (r["t1"], r["j"])
            elif kind == "bundle":
                parts.setdefault(r["id"], []).append((int(r["n1"]), BundleComponent(r["t1"], int(r["n2"]))))
            elif kind == "entitle":
                extras.setdefault(r["id"], []).append((int(r["n1"]), Entitlement(
                    r["t1"], int(r["n3"]), r["t2"], int(r["n2"]), int(r["n4"]), r["t3"]
                )))
            elif kind == "held":
                held.setdefault(r["t3"], []).append(
                    ClaimedKey(r["id"], r["t1"], int(r["n1"]), int(r["n2"]), int(r["n3"]), r["t2"], r["t4"])
                )
            else:
                ranked.setdefault((r["t1"], r["t3"]), []).append(
                    (
                        int(r["n2"]),
                        AvailableKey(
                            r["id"], r["t1"], int(r["n3"]), r["t2"], r["t4"], r["t5"], r["ts1"], r["ts2"]
                        ),
                    )
                )
        decided: dict[str, Allocation] = {}
        for order_id, (outcome, short_lines) in outcomes.items():
            if outcome == "short":
                decided[order_id] = Short(tuple(ShortLine(**line) for line in short_lines or []))
            else:
                held_keys = sorted(held.get(order_id, []), key=lambda k: (k.line_no, k.unit_no))
                decided[order_id] = Reserved(tuple(held_keys))
        available = {c: [k for _, k in sorted(keys, key=lambda x: x[0])] for c, keys in ranked.items()}
        bundles = {sku: tuple(c for _, c in sorted(p, key=lambda x: x[0])) for sku, p in parts.items()}
        entitlements = {sku: tuple(e for _, e in sorted(p, key=lambda x: x[0])) for sku, p in extras.items()}
        return AllocationState(decided, stock, available, bundles, entitlements)


def _fewer_than_asked(state: AllocationState, needs: Mapping[Claim, int]) -> bool:
    """Some (SKU, channel) of known stock got fewer keys than the claim asked for (a bundle's as its
    components'; a bundle of points and memberships only asks for no key)."""
    asked: dict[Claim, int] = {}
    for (sku_id, channel), n in needs.items():
        parts = [(c.sku_id, c.quantity) for c in state.bundles.get(sku_id, ())]
        if not parts and sku_id not in state.entitlements:
            parts = [(sku_id, 1)]
        for part, per_unit in parts:
            asked[(part, channel)] = asked.get((part, channel), 0) + n * per_unit
    return any(
        len(state.available.get(claim, ())) < n for claim, n in asked.items() if claim[0] in state.stock
    )


class PgExpiry(Expiry):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def lock_due(self, as_of: datetime, limit: int) -> tuple[list[ExpiredKey], dict[str, SkuStock]]:
        # The SKUs first (as allocations lock them), then their due keys: never a lock cycle with a claim.
        cur = await self._conn.execute(
            "SELECT DISTINCT sku_id FROM (SELECT sku_id FROM keys WHERE state = 'available'"
            " AND expires_at <= %s ORDER BY expires_at LIMIT %s) due",
            (as_of, limit),
        )
        skus = [r["sku_id"] for r in await cur.fetchall()]
        if not skus:
            return [], {}
        stock = await PgStock(self._conn).lock(skus)
        cur = await self._conn.execute(
            "SELECT key_id, sku_id, pool_id FROM keys WHERE state = 'available' AND expires_at <= %s"
            " AND sku_id = ANY(%s::text[]) ORDER BY key_id LIMIT %s FOR UPDATE SKIP LOCKED",
            (as_of, sorted(stock), limit),
        )
        keys = [ExpiredKey(r["key_id"], r["sku_id"], r["pool_id"]) for r in await cur.fetchall()]
        return keys, {s: stock[s] for s in sorted({k.sku_id for k in keys})}


# A reveal's read: every key an order holds, or the keys named, with their sealed material and data key.
# Each row is an index probe whatever the statistics say (the lateral subqueries, kept apart by LIMIT and
# OFFSET 0, are never flattened into joins): the generic plan psycopg prepares after five runs was made
# when the pool's statistics were those of an empty table, and scanned all of key_material each reveal.
_SEALED_KEYS_OF_ORDERS = (
    "SELECT k.order_id, k.key_id, k.sku_id, k.batch_id, m.ciphertext, m.nonce,"
    " d.master_key_id, d.wrapped_data_key FROM ("
    " SELECT k.* FROM unnest(%s::text[]) AS w(order_id) CROSS JOIN LATERAL"
    " (SELECT order_id, key_id, sku_id, batch_id, line_no, unit_no FROM keys"
    " WHERE keys.order_id = w.order_id OFFSET 0) k"
    " UNION"
    " SELECT k.* FROM unnest(%s::text[]) AS w(key_id) CROSS JOIN LATERAL"
    " (SELECT order_id, key_id, sku_id, batch_id, line_no, unit_no FROM keys"
    " WHERE keys.key_id = w.key_id LIMIT 1) k"
    " ) k"
    " CROSS JOIN LATERAL (SELECT ciphertext, nonce FROM key_material m"
    " WHERE m.batch_id = k.batch_id AND m.key_id = k.key_id LIMIT 1) m"
    " CROSS JOIN LATERAL (SELECT master_key_id, wrapped_data_key FROM data_keys d"
    " WHERE d.batch_id = k.batch_id LIMIT 1) d"
    " ORDER BY k.order_id, k.line_no, k.unit_no"
)


class PgKeyVault(KeyVault):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def add_batch(self, sku_id: str, batch: SealedBatch) -> int:
        conn = self._conn
        await conn.execute(
            "INSERT INTO data_keys (batch_id, master_key_id, wrapped_data_key) VALUES (%s, %s, %s)",
            (batch.batch_id, batch.wrapped_data_key.master_key_id, batch.wrapped_data_key.blob),
        )
        if not batch.rows:
            return 0
        # Imports into one SKU take turns (as file imports do, whose rows go in file order).
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('quanyi.key-import:' || %s, 0))", (sku_id,)
        )
        # COPY into a staging table, then one INSERT that skips the codes the SKU holds already. In
        # fingerprint order: two imports of overlapping codes into one SKU then wait for each other in
        # the same order, never in a cycle.
        await conn.execute(
            "CREATE TEMP TABLE import_staging (key_id text, fingerprint bytea, ciphertext bytea, nonce bytea)"
            " ON COMMIT DROP"
        )
        async with conn.cursor() as cur:
            async with cur.copy(
                "COPY import_staging (key_id, fingerprint, ciphertext, nonce) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "bytea", "bytea", "bytea"])
                for row in batch.rows:
                    await copy.write_row(row)
            await cur.execute(
                "INSERT INTO key_material (batch_id, key_id, sku_id, fingerprint, nonce, ciphertext)"
                " SELECT %s, key_id, %s, fingerprint, nonce, ciphertext FROM import_staging"
                " ORDER BY fingerprint ON CONFLICT (fingerprint, sku_id) DO NOTHING",
                (batch.batch_id, sku_id),
            )
            stored = max(int(cur.rowcount), 0)
        await conn.execute("DROP TABLE import_staging")
        return stored

    async def sealed_keys(self, order_id: str, key_ids: Sequence[str]) -> list[SealedKeyOfOrder]:
        wanted = sorted(set(key_ids))
        cur = await self._conn.execute(
            "SELECT k.key_id, k.sku_id, k.batch_id, m.ciphertext, m.nonce,"
            " d.master_key_id, d.wrapped_data_key FROM keys k"
            " JOIN key_material m ON m.batch_id = k.batch_id AND m.key_id = k.key_id"
            " JOIN data_keys d ON d.batch_id = k.batch_id"
            " WHERE k.order_id = %s AND (cardinality(%s::text[]) = 0 OR k.key_id = ANY(%s::text[]))"
            " ORDER BY k.line_no, k.unit_no",
            (order_id, wanted, wanted),
        )
        return [
            SealedKeyOfOrder(
                r["key_id"], r["sku_id"], r["batch_id"],
                SealedKey(bytes(r["nonce"]), bytes(r["ciphertext"])),
                WrappedDataKey(r["master_key_id"], bytes(r["wrapped_data_key"])),
            )
            for r in await cur.fetchall()
        ]

    async def sealed_keys_of_orders(
        self, asked: Mapping[str, Sequence[str]]
    ) -> dict[str, list[SealedKeyOfOrder]]:
        # Whole orders by order id, the others by key id (the key's order is checked below).
        whole = sorted(o for o, ids in asked.items() if not ids)
        by_id = sorted({k for ids in asked.values() for k in ids})
        cur = await self._conn.execute(_SEALED_KEYS_OF_ORDERS, (whole, by_id))
        wanted = {o: set(ids) for o, ids in asked.items()}
        held: dict[str, list[SealedKeyOfOrder]] = {}
        for r in await cur.fetchall():
            order_id = r["order_id"]
            if order_id not in wanted or (wanted[order_id] and r["key_id"] not in wanted[order_id]):
                continue
            held.setdefault(order_id, []).append(
                SealedKeyOfOrder(
                    r["key_id"], r["sku_id"], r["batch_id"],
                    SealedKey(bytes(r["nonce"]), bytes(r["ciphertext"])),
                    WrappedDataKey(r["master_key_id"], bytes(r["wrapped_data_key"])),
                )
            )
        return held

    async def find(self, fingerprint: bytes) -> FoundKey | None:
        cur = await self._conn.execute(
            "SELECT m.key_id, m.sku_id, k.order_id FROM key_material m JOIN keys k ON k.key_id = m.key_id"
            " WHERE m.fingerprint = %s ORDER BY k.reserved_at DESC NULLS LAST, m.key_id LIMIT 1",
            (fingerprint,),
        )
        row = await cur.fetchone()
        return None if row is None else FoundKey(row["key_id"], row["sku_id"], row["order_id"] or "")

    async def wrapped_not_by(self, master_key_id: str) -> dict[str, WrappedDataKey]:
        cur = await self._conn.execute(
            "SELECT batch_id, master_key_id, wrapped_data_key FROM data_keys WHERE master_key_id <> %s"
            " ORDER BY batch_id FOR UPDATE",
            (master_key_id,),
        )
        return {
            r["batch_id"]: WrappedDataKey(r["master_key_id"], bytes(r["wrapped_data_key"]))
            for r in await cur.fetchall()
        }

    async def rewrap(self, wrapped: Mapping[str, WrappedDataKey]) -> None:
        if not wrapped:
            return
        batches = sorted(wrapped)
        await self._conn.execute(
            "UPDATE data_keys d SET master_key_id = u.master_key_id, wrapped_data_key = u.blob"
            " FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS u(batch_id, master_key_id, blob)"
            " WHERE d.batch_id = u.batch_id",
            (batches, [wrapped[b].master_key_id for b in batches], [wrapped[b].blob for b in batches]),
        )


class PgHeldKeys(HeldKeys):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def lock(self, order_ids: Collection[str]) -> dict[str, OrderKeys]:
        ids = sorted(set(order_ids))
        if not ids:
            return {}
        # The keys the orders' refunds took back ride along, as a subquery per order (an index probe of
        # refunded_keys' primary key): no statement more on the deliveries' way.
        cur = await self._conn.execute(
            "SELECT a.order_id, a.outcome, a.version, (SELECT json_agg(json_build_array(r.key_id, r.sku_id,"
            " r.pool_id, r.line_no, r.unit_no, r.refund_id, r.taken, r.redemption_event_id IS NOT NULL)"
            " ORDER BY r.key_id) FROM refunded_keys r WHERE r.order_id = a.order_id) AS taken"
            " FROM allocations a WHERE a.order_id = ANY(%s)",
            (ids,),
        )
        found: dict[str, tuple[bool, int]] = {}
        taken: dict[str, tuple[TakenKey, ...]] = {}
        for r in await cur.fetchall():
            found[r["order_id"]] = (r["outcome"] == "reserved", int(r["version"]))
            taken[r["order_id"]] = tuple(
                TakenKey(HeldKey(t[0], t[1], t[2], int(t[3]), int(t[4])), t[5], t[6], bool(t[7]))
                for t in r["taken"] or ()
            )
        # Key id order: every writer that locks an order's keys takes them in one order.
        cur = await self._conn.execute(
            "SELECT k.key_id, k.sku_id, k.pool_id, k.order_id, k.line_no, k.unit_no, k.state,"
            " k.refund_id IS NOT NULL AS refunded,"
            " EXISTS (SELECT 1 FROM key_reveals r WHERE r.key_id = k.key_id) AS revealed"
            " FROM keys k WHERE k.order_id = ANY(%s) ORDER BY k.key_id FOR UPDATE OF k",
            (sorted(found),),
        )
        held: dict[str, list[OrderKey]] = {}
        for r in await cur.fetchall():
            key = HeldKey(r["key_id"], r["sku_id"], r["pool_id"], int(r["line_no"]), int(r["unit_no"]))
            held.setdefault(r["order_id"], []).append(
                OrderKey(key, r["state"], bool(r["revealed"]), bool(r["refunded"]))
            )
        return {
            order_id: OrderKeys(order_id, version, reserved, tuple(held.get(order_id, ())), taken[order_id])
            for order_id, (reserved, version) in found.items()
        }


def _import_job(r: Any) -> ImportJob:
    outcome = None
    if r["status"] == "failed":
        outcome = KeyFileImportFinished(r["job_id"], True, r["error"])
    elif r.get("result") is not None:
        o = r["result"]
        outcome = KeyFileImportFinished(
            r["job_id"], False, "", o["batch_id"], int(o["imported"]), int(o["duplicates_in_file"]),
            int(o["duplicates_in_pool"]), int(o["rejected"]), int(o["rows"]), o["file_sha256"],
            bool(o["aborted"]), tuple(ImportBadRow(int(line), str(reason)) for line, reason in o["bad_rows"]),
        )
    return ImportJob(
        r["job_id"], r["pool_id"], r["file_name"], r["actor"], r["status"], r["stage"], int(r["rows_read"]),
        int(r["bytes_read"]), int(r["bytes_total"]), r["created_at"], r["finished_at"], r["error"], outcome,
    )


class PgImportJobs(ImportJobs):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def get(self, job_id: str) -> ImportJob | None:
        cur = await self._conn.execute("SELECT * FROM key_file_imports WHERE job_id = %s", (job_id,))
        row = await cur.fetchone()
        return None if row is None else _import_job(row)

    async def recent(self, limit: int) -> list[ImportJob]:
        cur = await self._conn.execute(
            "SELECT job_id, pool_id, file_name, actor, status, stage, rows_read, bytes_read, bytes_total,"
            " created_at, finished_at, error,"
            " CASE WHEN result IS NULL THEN NULL ELSE result || '{\"bad_rows\": []}'::jsonb END AS result"
            " FROM key_file_imports ORDER BY created_at DESC, job_id DESC LIMIT %s",
            (limit,),
        )
        return [_import_job(r) for r in await cur.fetchall()]


class PgInventoryUnitOfWork(PgUnitOfWork, InventoryUnitOfWork):
    """A transaction of its own (`pool=`), or bound to a consumer's (`conn=`); its events go through
    `store`, which runs inventory's projections inline."""

    def __init__(self, store: EventStore, pool: Any = None, conn: Any = None) -> None:
        super().__init__(store, pool=pool, conn=conn)

    def _bind(self, conn: Any) -> None:
        self.catalogue = PgCatalogue(conn)
        self.stock = PgStock(conn)
        self.allocations = PgAllocations(conn)
        self.held_keys = PgHeldKeys(conn)
        self.import_jobs = PgImportJobs(conn)
        self.vault = PgKeyVault(conn)
        self.expiry = PgExpiry(conn)
        self.imports = PgKeyImports(conn)
        self.batches = PgBatches(conn)

    async def record(
        self,
        changes: Sequence[Recorded],
        context: Context = Context(),
        by_cause: Mapping[str, Context] | None = None,
    ) -> None:
        if changes:
            await self.events.append(new_events(changes, context, by_cause))

