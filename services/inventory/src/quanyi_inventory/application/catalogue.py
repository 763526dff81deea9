"""Catalogue use cases: products, SKUs and pools. Each takes a connection already in a transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from quanyi_platform.envelope import new_event_id

from quanyi_inventory.domain import catalogue
from quanyi_inventory.domain.catalogue import Money
from quanyi_inventory.domain.errors import NotFound


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class Sku:
    sku_id: str
    product_id: str
    name: str
    price: Money
    low_stock_threshold: int
    available: int


@dataclass(frozen=True)
class Pool:
    pool_id: str
    sku_id: str
    name: str


async def create_product(conn: AsyncConnection[Any], *, name: str, kind: str) -> Product:
    product = Product(new_event_id(), catalogue.name(name, "product name"), catalogue.product_kind(kind))
    await conn.execute(
        "INSERT INTO products (product_id, name, kind) VALUES (%s, %s, %s)",
        (product.product_id, product.name, product.kind),
    )
    return product


async def create_sku(
    conn: AsyncConnection[Any], *, product_id: str, name: str, price: Money, low_stock_threshold: int
) -> Sku:
    sku_name = catalogue.name(name, "SKU name")
    price = catalogue.money(price.minor_units, price.currency, "price")
    threshold = catalogue.low_stock_threshold(low_stock_threshold)
    cur = await conn.execute("SELECT 1 FROM products WHERE product_id = %s", (product_id,))
    if await cur.fetchone() is None:
        raise NotFound("no such product")
    sku = Sku(new_event_id(), product_id, sku_name, price, threshold, 0)
    await conn.execute(
        "INSERT INTO skus (sku_id, product_id, name, price_minor, currency, low_stock_threshold)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (sku.sku_id, product_id, sku.name, price.minor_units, price.currency, threshold),
    )
    return sku


class AvailableCounts:
    """Available keys per SKU, counted at most once per `ttl_s` per SKU by this process.

    GetSku sits on the order-placement path, and counting a pool of a million keys costs about 100 ms.
    The count is for display only (allocation alone decides whether an order gets keys), so it may be
    up to `ttl_s` old; an import in this process refreshes it at once.
    """

    MAX_ENTRIES = 100_000

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}

    async def get(self, conn: AsyncConnection[Any], sku_id: str) -> int:
        return (await self.get_many(conn, [sku_id]))[sku_id]

    async def get_many(self, conn: AsyncConnection[Any], sku_ids: list[str]) -> dict[str, int]:
        """Counts of several SKUs; those not fresh in the cache are counted in one query."""
        now = self._clock()
        out: dict[str, int] = {}
        stale = []
        for sku_id in sku_ids:
            cached = self._counts.get(sku_id)
            if cached is not None and now - cached[0] < self._ttl_s:
                out[sku_id] = cached[1]
            else:
                stale.append(sku_id)
        if stale:
            cur = await conn.execute(
                "SELECT sku_id, count(*) AS n FROM keys WHERE sku_id = ANY(%s) AND state = 'available'"
                " GROUP BY sku_id",
                (stale,),
            )
            counted = {r["sku_id"]: int(r["n"]) for r in await cur.fetchall()}
            if len(self._counts) + len(stale) > self.MAX_ENTRIES:
                self._counts.clear()
            for sku_id in stale:
                out[sku_id] = counted.get(sku_id, 0)
                self._counts[sku_id] = (now, out[sku_id])
        return out

    def forget(self, sku_id: str) -> None:
        self._counts.pop(sku_id, None)


async def get_sku(conn: AsyncConnection[Any], sku_id: str, counts: AvailableCounts) -> Sku:
    cur = await conn.execute(
        "SELECT sku_id, product_id, name, price_minor, currency, low_stock_threshold FROM skus"
        " WHERE sku_id = %s",
        (sku_id,),
    )
    row: Any = await cur.fetchone()
    if row is None:
        raise NotFound("no such SKU")
    return Sku(
        row["sku_id"], row["product_id"], row["name"], Money(row["price_minor"], row["currency"]),
        row["low_stock_threshold"], await counts.get(conn, sku_id),
    )


@dataclass(frozen=True)
class SkuPage:
    skus: list[Sku]
    next_page_token: str


async def list_skus(
    conn: AsyncConnection[Any], counts: AvailableCounts, *, page_size: int, page_token: str
) -> SkuPage:
    """One page of SKUs in id order (ids are UUIDv7, so oldest first); the token is the last id shown."""
    size = catalogue.page_size(page_size)
    after = catalogue.page_token(page_token)
    cur = await conn.execute(
        "SELECT sku_id, product_id, name, price_minor, currency, low_stock_threshold FROM skus"
        " WHERE sku_id > %s ORDER BY sku_id LIMIT %s",
        (after, size + 1),
    )
    rows: list[Any] = await cur.fetchall()
    more = len(rows) > size
    rows = rows[:size]
    available = await counts.get_many(conn, [r["sku_id"] for r in rows])
    skus = [
        Sku(
            r["sku_id"], r["product_id"], r["name"], Money(r["price_minor"], r["currency"]),
            r["low_stock_threshold"], available[r["sku_id"]],
        )
        for r in rows
    ]
    return SkuPage(skus, skus[-1].sku_id if more else "")


async def create_pool(conn: AsyncConnection[Any], *, sku_id: str, name: str) -> Pool:
    pool_name = catalogue.pool_name(name)
    cur = await conn.execute("SELECT 1 FROM skus WHERE sku_id = %s", (sku_id,))
    if await cur.fetchone() is None:
        raise NotFound("no such SKU")
    pool = Pool(new_event_id(), sku_id, pool_name)
    await conn.execute(
        "INSERT INTO pools (pool_id, sku_id, name) VALUES (%s, %s, %s)", (pool.pool_id, sku_id, pool.name)
    )
    return pool
