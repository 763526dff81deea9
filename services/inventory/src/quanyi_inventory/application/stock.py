"""Low-stock alerts: one StockLow per episode in which a SKU's available keys are at or below its
threshold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.envelope import NewEvent

from quanyi_inventory.domain.allocation import stock_is_low


async def available_up_to(conn: AsyncConnection[Any], sku_id: str, limit: int) -> int:
    """The SKU's available keys, counted no further than `limit` (cheap however large the pool)."""
    cur = await conn.execute(
        "SELECT count(*) AS n FROM (SELECT 1 FROM keys WHERE sku_id = %s AND state = 'available' LIMIT %s) a",
        (sku_id, limit),
    )
    row: Any = await cur.fetchone()
    return int(row["n"])


async def low_stock_events(
    conn: AsyncConnection[Any], sku_ids: Iterable[str], *, correlation_id: str, causation_id: str
) -> list[NewEvent]:
    """StockLow for each of `sku_ids` that is low now and was not yet reported low.

    The flag is set with a conditional UPDATE, so of concurrent claimers exactly one reports the
    episode. SKUs are visited in id order, so two transactions never wait for each other in a cycle.
    """
    events: list[NewEvent] = []
    for sku_id in sorted(set(sku_ids)):
        cur = await conn.execute(
            "SELECT low_stock_threshold AS threshold, low_stock_alerted AS alerted FROM skus"
            " WHERE sku_id = %s",
            (sku_id,),
        )
        row: Any = await cur.fetchone()
        if row is None or row["alerted"] or row["threshold"] <= 0:
            continue
        threshold = int(row["threshold"])
        available = await available_up_to(conn, sku_id, threshold + 1)
        if not stock_is_low(available, threshold):
            continue
        cur = await conn.execute(
            "UPDATE skus SET low_stock_alerted = true, low_stock_alerts = low_stock_alerts + 1"
            " WHERE sku_id = %s AND NOT low_stock_alerted RETURNING low_stock_alerts",
            (sku_id,),
        )
        updated: Any = await cur.fetchone()
        if updated is None:
            continue
        events.append(
            NewEvent(
                aggregate_type="SkuStock",
                aggregate_id=sku_id,
                aggregate_version=int(updated["low_stock_alerts"]),
                payload=inventory_events.StockLow(sku_id=sku_id, available=available, threshold=threshold),
                correlation_id=correlation_id,
                causation_id=causation_id,
            )
        )
    return events


async def clear_low_stock_if_restocked(conn: AsyncConnection[Any], sku_id: str) -> None:
    """After an import: a SKU back above its threshold may be reported low again later."""
    cur = await conn.execute(
        "SELECT low_stock_threshold AS threshold FROM skus WHERE sku_id = %s AND low_stock_alerted", (sku_id,)
    )
    row: Any = await cur.fetchone()
    if row is None:
        return
    threshold = int(row["threshold"])
    if not stock_is_low(await available_up_to(conn, sku_id, threshold + 1), threshold):
        await conn.execute("UPDATE skus SET low_stock_alerted = false WHERE sku_id = %s", (sku_id,))
