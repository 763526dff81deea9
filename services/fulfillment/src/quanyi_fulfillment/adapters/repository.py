"""Fulfillment's tables. Every function runs in the caller's transaction; none ever sees a key's secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from quanyi_fulfillment.domain.delivery import Reservation


@dataclass(frozen=True)
class DeliveryRow:
    order_id: str
    key_id: str
    sku_id: str
    buyer_id: str
    line_no: int
    unit_no: int
    delivered_at: datetime
    redeemed_at: datetime | None
    redeemed_by_partner: str | None


@dataclass(frozen=True)
class PendingEmail:
    order_id: str
    buyer_email: str
    attempts: int


_DELIVERY_COLUMNS = (
    "order_id, key_id, sku_id, buyer_id, line_no, unit_no, delivered_at, redeemed_at, redeemed_by_partner"
)


def _delivery(row: Any) -> DeliveryRow:
    return DeliveryRow(**{k: row[k] for k in DeliveryRow.__dataclass_fields__})


async def take_order(conn: AsyncConnection[Any], order_id: str) -> None:
    """Make sure the order's row exists. A concurrent handler of the same order waits here until the
    first commits, and then sees its deliveries."""
    await conn.execute(
        "INSERT INTO delivery_orders (order_id) VALUES (%s) ON CONFLICT (order_id) DO NOTHING", (order_id,)
    )


async def delivered_key_ids(conn: AsyncConnection[Any], order_id: str) -> list[str]:
    cur = await conn.execute("SELECT key_id FROM deliveries WHERE order_id = %s", (order_id,))
    return [r["key_id"] for r in await cur.fetchall()]


async def insert_deliveries(
    conn: AsyncConnection[Any], reservation: Reservation, delivered_at: datetime
) -> None:
    keys = reservation.keys
    await conn.execute(
        "INSERT INTO deliveries (order_id, key_id, sku_id, buyer_id, line_no, unit_no, unit_cost_minor,"
        " currency, delivered_at)"
        " SELECT %s, k, s, %s, l, u, c, cur, %s"
        " FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::bigint[], %s::text[])"
        " AS t(k, s, l, u, c, cur)",
        (
            reservation.order_id,
            reservation.buyer_id,
            delivered_at,
            [k.key_id for k in keys],
            [k.sku_id for k in keys],
            [k.line_no for k in keys],
            [k.unit_no for k in keys],
            [k.unit_cost.minor_units for k in keys],
            [k.unit_cost.currency for k in keys],
        ),
    )


async def set_version(conn: AsyncConnection[Any], order_id: str, version: int) -> None:
    await conn.execute("UPDATE delivery_orders SET version = %s WHERE order_id = %s", (version, order_id))


async def next_version(conn: AsyncConnection[Any], order_id: str) -> int:
    """The Delivery aggregate's next event version, taken (the row stays locked until commit)."""
    cur = await conn.execute(
        "UPDATE delivery_orders SET version = version + 1 WHERE order_id = %s RETURNING version", (order_id,)
    )
    row: Any = await cur.fetchone()
    if row is None:
        raise LookupError(f"order {order_id} is not known to fulfillment")
    return int(row["version"])


async def order_keys(conn: AsyncConnection[Any], order_id: str) -> list[DeliveryRow]:
    cur = await conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE order_id = %s ORDER BY line_no, unit_no",
        (order_id,),
    )
    return [_delivery(r) for r in await cur.fetchall()]


async def list_deliveries(
    conn: AsyncConnection[Any], buyer_id: str, order_id: str | None
) -> list[DeliveryRow]:
    cur = await conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"
        " WHERE buyer_id = %s AND (%s::text IS NULL OR order_id = %s)"
        " ORDER BY delivered_at, order_id, line_no, unit_no",
        (buyer_id, order_id, order_id),
    )
    return [_delivery(r) for r in await cur.fetchall()]


async def lock_delivery(conn: AsyncConnection[Any], key_id: str) -> DeliveryRow | None:
    cur = await conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE key_id = %s FOR UPDATE", (key_id,)
    )
    row: Any = await cur.fetchone()
    return None if row is None else _delivery(row)


async def mark_redeemed(conn: AsyncConnection[Any], key_id: str, partner: str, at: datetime) -> DeliveryRow:
    cur = await conn.execute(
        f"UPDATE deliveries SET redeemed_at = %s, redeemed_by_partner = %s WHERE key_id = %s"
        f" RETURNING {_DELIVERY_COLUMNS}",
        (at, partner, key_id),
    )
    return _delivery(await cur.fetchone())


async def queue_email(
    conn: AsyncConnection[Any], order_id: str, buyer_email: str, attempts: int, next_attempt_at: datetime,
    last_error: str, state: str,
) -> None:
    await conn.execute(
        "INSERT INTO email_outbox (order_id, buyer_email, attempts, next_attempt_at, last_error, state)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (order_id, buyer_email, attempts, next_attempt_at, last_error, state),
    )


async def take_due_email(conn: AsyncConnection[Any], now: datetime) -> PendingEmail | None:
    """The oldest pending e-mail due by `now`, locked for this transaction; others skip it."""
    cur = await conn.execute(
        "SELECT order_id, buyer_email, attempts FROM email_outbox"
        " WHERE state = 'pending' AND next_attempt_at <= %s"
        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        (now,),
    )
    row: Any = await cur.fetchone()
    return None if row is None else PendingEmail(row["order_id"], row["buyer_email"], int(row["attempts"]))


async def update_email(
    conn: AsyncConnection[Any], order_id: str, *, attempts: int, next_attempt_at: datetime, last_error: str,
    state: str,
) -> None:
    await conn.execute(
        "UPDATE email_outbox SET attempts = %s, next_attempt_at = %s, last_error = %s, state = %s,"
        " updated_at = now() WHERE order_id = %s",
        (attempts, next_attempt_at, last_error, state, order_id),
    )
