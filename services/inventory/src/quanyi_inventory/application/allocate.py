"""Allocating card keys to paid orders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from quanyi.common.v1 import money_pb2
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import EventStore

from quanyi_inventory.application.stock import low_stock_events
from quanyi_inventory.domain.allocation import (
    Allocation,
    ClaimedKey,
    OrderLine,
    Reserved,
    Short,
    ShortLine,
    decide,
    lines_to_fill,
)

log = logging.getLogger(__name__)

AGGREGATE = "Allocation"

# One statement claims a line: the oldest available keys of the SKU that no other transaction holds,
# numbered 1..n as the line's units. SKIP LOCKED lets concurrent orders take different keys without
# waiting; a row another transaction reserved meanwhile fails the re-check of state and is passed over.
_CLAIM = """
WITH c AS (
    SELECT key_id FROM keys
    WHERE sku_id = %(sku_id)s AND state = 'available'
    ORDER BY key_id
    LIMIT %(quantity)s
    FOR UPDATE SKIP LOCKED
), numbered AS (
    SELECT key_id, row_number() OVER (ORDER BY key_id) AS unit_no FROM c
)
UPDATE keys k
SET state = 'reserved', order_id = %(order_id)s, line_no = %(line_no)s, unit_no = numbered.unit_no,
    reserved_at = now()
FROM numbered
WHERE k.key_id = numbered.key_id
RETURNING k.key_id, k.sku_id, k.line_no, k.unit_no, k.unit_cost_minor, k.currency
"""


@dataclass(frozen=True)
class PaidOrder:
    order_id: str
    buyer_id: str
    buyer_email: str
    channel: str
    lines: tuple[OrderLine, ...]


class _Undo(Exception):
    """Leaves the savepoint, so that the claims of a short order roll back."""


def _claimed_key(row: Any) -> ClaimedKey:
    return ClaimedKey(
        row["key_id"], row["sku_id"], row["line_no"], row["unit_no"], row["unit_cost_minor"], row["currency"]
    )


async def allocate_paid_order(
    conn: AsyncConnection[Any],
    store: EventStore,
    order: PaidOrder,
    *,
    correlation_id: str,
    causation_id: str,
) -> Allocation:
    """Claim one key per unit of every line of `order`, all or nothing, in the caller's transaction.

    Records KeyReserved (and StockLow for SKUs that fell to their threshold) or StockShort, as version 1
    of the order's Allocation. The decision is taken once per order: a repeated call returns the same
    keys, or the same shortage, and records nothing. Concurrent calls for one order wait for each other;
    calls for different orders never take the same key.
    """
    lines = lines_to_fill(order.lines)
    cur = await conn.execute(
        "INSERT INTO allocations (order_id, outcome) VALUES (%s, 'pending')"
        " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
        (order.order_id,),
    )
    if await cur.fetchone() is None:
        return await previous_allocation(conn, order.order_id)

    claimed: dict[int, list[ClaimedKey]] = {}
    outcome: Allocation | None = None
    try:
        async with conn.transaction():
            for line in lines:
                rows = await (
                    await conn.execute(
                        _CLAIM,
                        {"sku_id": line.sku_id, "quantity": line.quantity, "order_id": order.order_id,
                         "line_no": line.line_no},
                    )
                ).fetchall()
                claimed[line.line_no] = [_claimed_key(r) for r in rows]
            outcome = decide(lines, claimed)
            if isinstance(outcome, Short):
                raise _Undo
    except _Undo:
        pass
    assert outcome is not None

    context = {"correlation_id": correlation_id or order.order_id, "causation_id": causation_id}
    if isinstance(outcome, Short):
        await conn.execute(
            "UPDATE allocations SET outcome = 'short', short_lines = %s, decided_at = now()"
            " WHERE order_id = %s",
            (Jsonb([vars(s) for s in outcome.lines]), order.order_id),
        )
        await store.append(conn, [_stock_short(order, outcome, **context)])
        log.info("stock short", extra={"order_id": order.order_id, "short_lines": len(outcome.lines)})
        return outcome

    await conn.execute(
        "UPDATE allocations SET outcome = 'reserved', decided_at = now() WHERE order_id = %s",
        (order.order_id,),
    )
    low = await low_stock_events(conn, {line.sku_id for line in lines}, **context)
    await store.append(conn, [_key_reserved(order, outcome, **context), *low])
    log.info("keys reserved", extra={"order_id": order.order_id, "keys": len(outcome.keys)})
    return outcome


async def previous_allocation(conn: AsyncConnection[Any], order_id: str) -> Allocation:
    """The allocation already decided for `order_id`: its keys, or its short lines."""
    cur = await conn.execute(
        "SELECT outcome, short_lines FROM allocations WHERE order_id = %s", (order_id,)
    )
    row: Any = await cur.fetchone()
    if row is not None and row["outcome"] == "short":
        return Short(tuple(ShortLine(**line) for line in row["short_lines"] or []))
    cur = await conn.execute(
        "SELECT key_id, sku_id, line_no, unit_no, unit_cost_minor, currency FROM keys"
        " WHERE order_id = %s ORDER BY line_no, unit_no",
        (order_id,),
    )
    return Reserved(tuple(_claimed_key(r) for r in await cur.fetchall()))


def _key_reserved(
    order: PaidOrder, reserved: Reserved, *, correlation_id: str, causation_id: str
) -> NewEvent:
    return NewEvent(
        aggregate_type=AGGREGATE,
        aggregate_id=order.order_id,
        aggregate_version=1,
        payload=inventory_events.KeyReserved(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            buyer_email=order.buyer_email,
            channel=order.channel,
            keys=[
                inventory_events.ReservedKey(
                    key_id=k.key_id,
                    sku_id=k.sku_id,
                    line_no=k.line_no,
                    unit_no=k.unit_no,
                    unit_cost=money_pb2.Money(minor_units=k.unit_cost_minor, currency=k.currency),
                )
                for k in reserved.keys
            ],
        ),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


def _stock_short(order: PaidOrder, short: Short, *, correlation_id: str, causation_id: str) -> NewEvent:
    return NewEvent(
        aggregate_type=AGGREGATE,
        aggregate_id=order.order_id,
        aggregate_version=1,
        payload=inventory_events.StockShort(
            order_id=order.order_id,
            lines=[
                inventory_events.ShortLine(
                    line_no=s.line_no, sku_id=s.sku_id, wanted=s.wanted, available=s.available
                )
                for s in short.lines
            ],
        ),
        correlation_id=correlation_id,
        causation_id=causation_id,
    )
