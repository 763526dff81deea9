"""Orders in Postgres: the `orders` row holds the aggregate's state and is the read model.

Guarantee: `save` writes the state only if the row still has the version the order was loaded with, and
appends the order's new events in the caller's transaction, so the row and its events commit together.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from quanyi_platform.envelope import NewEvent
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore

from quanyi_orders.adapters.proto_mapping import event_to_proto
from quanyi_orders.domain.events import OrderLine
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, RiskDecision, Status

AGGREGATE_TYPE = "Order"

_COLUMNS = (
    "order_id, buyer_id, buyer_email, channel, status, risk_decision, lines, total_minor, currency,"
    " captured_txn_id, version, created_at"
)


def _lines_json(order: Order) -> Jsonb:
    return Jsonb([
        {"line_no": ln.line_no, "sku_id": ln.sku_id, "quantity": ln.quantity,
         "unit_price_minor": ln.unit_price.minor_units}
        for ln in order.lines
    ])


def _from_row(row: Any) -> Order:
    currency = row["currency"]
    return Order(
        order_id=row["order_id"],
        buyer_id=row["buyer_id"],
        buyer_email=row["buyer_email"],
        channel=row["channel"],
        lines=[
            OrderLine(int(ln["line_no"]), ln["sku_id"], int(ln["quantity"]),
                      Money(int(ln["unit_price_minor"]), currency))
            for ln in row["lines"]
        ],
        total=Money(int(row["total_minor"]), currency),
        status=Status(row["status"]),
        risk_decision=RiskDecision(row["risk_decision"]),
        captured_txn_id=row["captured_txn_id"],
        version=int(row["version"]),
        placed_at=row["created_at"],
    )


def _new_events(order: Order, expected_version: int, causation_id: str) -> list[NewEvent]:
    return [
        NewEvent(
            aggregate_type=AGGREGATE_TYPE,
            aggregate_id=order.order_id,
            aggregate_version=expected_version + n,
            payload=event_to_proto(ev),
            correlation_id=order.order_id,
            causation_id=causation_id,
        )
        for n, ev in enumerate(order.pending_events, start=1)
    ]


async def insert_new(
    conn: AsyncConnection[Any], store: EventStore, order: Order, idempotency_key: str
) -> bool:
    """Insert a just-placed order and append its events, unless the buyer already used the key.

    Returns False (and writes nothing) when (buyer, idempotency key) already names an order.
    """
    cur = await conn.execute(
        "INSERT INTO orders (order_id, buyer_id, buyer_email, channel, status, risk_decision, lines,"
        " total_minor, currency, captured_txn_id, version, idempotency_key, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (buyer_id, idempotency_key) DO NOTHING RETURNING order_id",
        (
            order.order_id, order.buyer_id, order.buyer_email, order.channel, order.status.value,
            order.risk_decision.value, _lines_json(order), order.total.minor_units, order.total.currency,
            order.captured_txn_id, order.version, idempotency_key, order.placed_at, order.placed_at,
        ),
    )
    if await cur.fetchone() is None:
        return False
    await store.append(conn, _new_events(order, 0, ""))
    order.pending_events.clear()
    order.changed = False
    return True


async def get(conn: AsyncConnection[Any], order_id: str, *, for_update: bool = False) -> Order | None:
    """The order, or None. `for_update` locks the row until the transaction ends (for commands)."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE order_id = %s{lock}", (order_id,))
    row = await cur.fetchone()
    return None if row is None else _from_row(row)


async def get_by_idempotency_key(conn: AsyncConnection[Any], buyer_id: str, key: str) -> Order | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM orders WHERE buyer_id = %s AND idempotency_key = %s", (buyer_id, key)
    )
    row = await cur.fetchone()
    return None if row is None else _from_row(row)


async def list_for_buyer(conn: AsyncConnection[Any], buyer_id: str, limit: int) -> list[Order]:
    """The buyer's orders, newest first."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM orders WHERE buyer_id = %s ORDER BY created_at DESC, order_id DESC LIMIT %s",
        (buyer_id, limit),
    )
    return [_from_row(row) for row in await cur.fetchall()]


async def save(conn: AsyncConnection[Any], store: EventStore, order: Order, causation_id: str = "") -> None:
    """Write the order's state and append its new events; ConcurrencyConflict if the row moved on."""
    if not order.changed:
        return
    expected = order.version - len(order.pending_events)
    cur = await conn.execute(
        "UPDATE orders SET status = %s, risk_decision = %s, captured_txn_id = %s, version = %s,"
        " updated_at = now() WHERE order_id = %s AND version = %s",
        (order.status.value, order.risk_decision.value, order.captured_txn_id, order.version,
         order.order_id, expected),
    )
    if cur.rowcount != 1:
        raise ConcurrencyConflict(f"order {order.order_id} is no longer at version {expected}")
    await store.append(conn, _new_events(order, expected, causation_id))
    order.pending_events.clear()
    order.changed = False


async def remember_notice(conn: AsyncConnection[Any], provider: str, nonce: str) -> bool:
    """Record a payment notice's nonce; False when the provider already sent this nonce."""
    cur = await conn.execute(
        "INSERT INTO payment_notices (provider, nonce) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING RETURNING nonce",
        (provider, nonce),
    )
    return await cur.fetchone() is not None


async def record_payment(
    conn: AsyncConnection[Any], provider: str, txn_id: str, order_id: str, amount: Money
) -> bool:
    """Record a captured payment; False when the provider's transaction is already recorded."""
    cur = await conn.execute(
        "INSERT INTO payments (provider, txn_id, order_id, amount_minor, currency)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING txn_id",
        (provider, txn_id, order_id, amount.minor_units, amount.currency),
    )
    return await cur.fetchone() is not None
