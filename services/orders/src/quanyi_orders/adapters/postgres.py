"""Orders' ports on Postgres: reads of the `orders` projection, and a unit of work that costs few round trips.

A unit of work on its own connection (from the pool) runs in pipeline mode with autocommit on, so the
server runs everything up to the pipeline's Sync as one implicit transaction: no BEGIN and no COMMIT
statements. Reads wait for their rows with a flush, not a Sync, and the transaction stays open; the
appends (the event INSERT and the projection's statement) are only queued; `commit` sends the Sync, and a
failure anywhere rolls the whole unit back. So:
- placing an order (append, commit) is one round trip of two statements;
- a payment notice (locking read, append, commit) is two round trips of three statements.
A read before anything needs a transaction (no lock taken, nothing appended) runs on its own, outside the
pipeline: a query is one statement and one round trip.

A unit of work bound to a consumer's connection (conn=...) lives in the consumer's transaction: its reads
run there, its appends go out in one pipeline (one round trip), and the consumer commits.

Constraint violations become the ports' errors: the (buyer, idempotency key) of `orders` is
IdempotencyKeyUsed; a second version of an aggregate, a nonce or a provider transaction accepted twice is
ConcurrencyConflict, and so are a deadlock and a serialization failure (transient: decide again).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg import errors
from quanyi_platform.envelope import Envelope, NewEvent
from quanyi_platform.eventstore import ConcurrencyConflict, EventStore
from quanyi_platform.uow import EventLog, PgUnitOfWork

from quanyi_orders.adapters.history import history_event
from quanyi_orders.adapters.postgres_coupons import PgCouponRepository
from quanyi_orders.application.ports import (
    HistoryEvent,
    HoldRepository,
    IdempotencyKeyUsed,
    NoticeFacts,
    OrderRepository,
    OrdersUnitOfWork,
    QueueEntry,
    SagaRepository,
    queue_entry,
)
from quanyi_orders.domain.events import OrderLine, RefundLine, RefundReason
from quanyi_orders.domain.holds import Holds
from quanyi_orders.domain.money import Money
from quanyi_orders.domain.order import Order, RiskDecision, Status
from quanyi_orders.domain.refund import KeysState, Refund, RefundStatus

IDEMPOTENCY_CONSTRAINT = "orders_buyer_id_idempotency_key_key"

_COLUMNS = (
    "o.order_id, o.buyer_id, o.channel, o.status, o.risk_decision, o.lines, o.total_minor,"
    " o.currency, o.captured_txn_id, o.version, o.idempotency_key, o.created_at, o.pay_by,"
    " o.captured_provider,"
    # Refused payments are the refunds of transactions other than the captured one (each refused payment
    # is refunded whole in the append that records it): the fold's Order.refused_txn_ids.
    " ARRAY(SELECT r.txn_id FROM refunds r WHERE r.order_id = o.order_id"
    " AND r.txn_id IS DISTINCT FROM o.captured_txn_id) AS refused_txn_ids"
)
# A keyset page's position as its own clause, present only when there is one: "IS NULL OR" around it would
# keep a prepared statement's generic plan from using it as an index condition (every page then scans from
# the first row: 120 ms a page 50,000 orders deep, bench/paging.py).
_BEFORE = " AND (o.created_at, o.order_id) < (%s::timestamptz, %s::text)"


def _from_row(row: Any) -> Order:
    currency = row["currency"]
    return Order(
        order_id=row["order_id"],
        buyer_id=row["buyer_id"],
        buyer_email="",  # orders keeps no address (migration 005)
        channel=row["channel"],
        lines=tuple(
            OrderLine(int(ln["line_no"]), ln["sku_id"], int(ln["quantity"]),
                      Money(int(ln["unit_price_minor"]), currency))
            for ln in row["lines"]
        ),
        total=Money(int(row["total_minor"]), currency),
        status=Status(row["status"]),
        risk_decision=RiskDecision(row["risk_decision"]),
        captured_txn_id=row["captured_txn_id"],
        version=int(row["version"]),
        placed_at=row["created_at"].astimezone(UTC),
        idempotency_key=row["idempotency_key"] or "",
        pay_by=row["pay_by"].astimezone(UTC) if row["pay_by"] is not None else None,
        captured_provider=row["captured_provider"],
        refused_txn_ids=frozenset(row["refused_txn_ids"]),
    )


@asynccontextmanager
async def translated_violations() -> AsyncIterator[None]:
    """Constraint violations of orders' tables as the ports' errors."""
    try:
        yield
    except errors.UniqueViolation as exc:
        if exc.diag.constraint_name == IDEMPOTENCY_CONSTRAINT:
            raise IdempotencyKeyUsed() from exc
        raise ConcurrencyConflict(str(exc.diag.constraint_name or "")) from exc
    except (errors.DeadlockDetected, errors.SerializationFailure) as exc:
        raise ConcurrencyConflict(type(exc).__name__) from exc  # transient: decide again from the start


class PgOrderRepository(OrderRepository):
    def __init__(self, uow: PgOrdersUnitOfWork) -> None:
        self._uow = uow

    async def _fetch(self, query: str, params: Sequence[Any], *, lock: bool) -> list[Any]:
        async with self._uow.statement(lock=lock) as conn:
            cur = await conn.execute(query, params)
            rows: list[Any] = await cur.fetchall()
        return rows

    async def get(self, order_id: str) -> Order | None:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM orders o WHERE o.order_id = %s", (order_id,),
                                 lock=False)
        return _from_row(rows[0]) if rows else None

    async def get_many_for_update(self, order_ids: Sequence[str]) -> dict[str, Order]:
        if not order_ids:
            return {}
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM orders o WHERE o.order_id = ANY(%s::text[])"
            " ORDER BY o.order_id FOR UPDATE",
            (list(order_ids),),
            lock=True,
        )
        return {r["order_id"]: _from_row(r) for r in rows}

    async def get_for_payment_notice(
        self, order_id: str, provider: str, nonce: str, txn_id: str
    ) -> tuple[Order | None, NoticeFacts]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS},"
            " EXISTS (SELECT 1 FROM payment_notices n WHERE n.provider = %s AND n.nonce = %s) AS nonce_seen,"
            " (SELECT p.order_id FROM payments p WHERE p.provider = %s AND p.txn_id = %s) AS txn_order_id"
            " FROM orders o WHERE o.order_id = %s FOR UPDATE OF o",
            (provider, nonce, provider, txn_id, order_id),
            lock=True,
        )
        if not rows:
            return None, NoticeFacts(nonce_seen=False, txn_order_id=None)
        row = rows[0]
        return _from_row(row), NoticeFacts(bool(row["nonce_seen"]), row["txn_order_id"])

    async def get_for_payment_notices(
        self, notices: Sequence[tuple[str, str, str, str]]
    ) -> tuple[dict[str, Order], list[NoticeFacts]]:
        if not notices:
            return {}, []
        order_ids, providers, nonces, txn_ids = (list(column) for column in zip(*notices, strict=True))
        rows = await self._fetch(
            # The CTE locks the orders in order_id order (as get_many_for_update), once each, and is
            # evaluated whole; each notice then finds its order and its facts, in the order given.
            f"WITH locked AS MATERIALIZED (SELECT {_COLUMNS} FROM orders o WHERE o.order_id = ANY(%s::text[])"
            " ORDER BY o.order_id FOR UPDATE)"
            " SELECT o.*,"
            " EXISTS (SELECT 1 FROM payment_notices pn WHERE pn.provider = n.provider AND pn.nonce = n.nonce)"
            " AS nonce_seen,"
            " (SELECT p.order_id FROM payments p WHERE p.provider = n.provider AND p.txn_id = n.txn_id)"
            " AS txn_order_id"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY"
            " AS n(order_id, provider, nonce, txn_id, i)"
            " LEFT JOIN locked o ON o.order_id = n.order_id ORDER BY n.i",
            (sorted(set(order_ids)), order_ids, providers, nonces, txn_ids),
            lock=True,
        )
        orders = {r["order_id"]: _from_row(r) for r in rows if r["order_id"] is not None}
        return orders, [NoticeFacts(bool(r["nonce_seen"]), r["txn_order_id"]) for r in rows]

    async def by_idempotency_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Order]:
        if not keys:
            return {}
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM orders o"
            " JOIN unnest(%s::text[], %s::text[]) AS k(buyer_id, idempotency_key)"
            " ON o.buyer_id = k.buyer_id AND o.idempotency_key = k.idempotency_key",
            ([b for b, _ in keys], [k for _, k in keys]),
            lock=False,
        )
        return {(r["buyer_id"], r["idempotency_key"]): _from_row(r) for r in rows}

    async def by_idempotency_key(self, buyer_id: str, key: str) -> Order | None:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM orders o WHERE o.buyer_id = %s AND o.idempotency_key = %s",
            (buyer_id, key),
            lock=False,
        )
        return _from_row(rows[0]) if rows else None

    async def history(self, order_id: str) -> list[HistoryEvent]:
        rows = await self._fetch(
            "SELECT envelope, occurred_at FROM events WHERE correlation_id = %s ORDER BY seq", (order_id,),
            lock=False,
        )
        return [history_event(bytes(r["envelope"]), r["occurred_at"]) for r in rows]

    async def search(
        self, channel: str, status: str, limit: int, before: tuple[datetime, str] | None
    ) -> list[Order]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM orders o"
            " WHERE (%s = '' OR o.channel = %s) AND (%s = '' OR o.status = %s)"
            f"{_BEFORE if before is not None else ''}"
            " ORDER BY o.created_at DESC, o.order_id DESC LIMIT %s",
            (channel, channel, status, status, *(before or ()), limit),
            lock=False,
        )
        return [_from_row(r) for r in rows]

    async def list_for_buyer(
        self, buyer_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[Order]:
        rows = await self._fetch(
            # orders_buyer_keyset serves it: a page reads limit rows however many the buyer has.
            f"SELECT {_COLUMNS} FROM orders o WHERE o.buyer_id = %s{_BEFORE if before is not None else ''}"
            " ORDER BY o.created_at DESC, o.order_id DESC LIMIT %s",
            (buyer_id, *(before or ()), limit),
            lock=False,
        )
        return [_from_row(r) for r in rows]


def _refund(row: Any) -> Refund:
    currency = row["currency"]
    return Refund(
        row["refund_id"], row["order_id"], row["provider"], row["txn_id"],
        Money(int(row["amount_minor"]), currency), RefundReason(row["reason"]),
        tuple(RefundLine(int(ln["line_no"]), ln["sku_id"], int(ln["quantity"]),
                         Money(int(ln["amount_minor"]), currency), int(ln.get("released", 0)),
                         int(ln.get("voided", 0)), int(ln.get("redeemed", 0))) for ln in row["lines"]),
        row["actor"], RefundStatus(row["status"]), int(row["attempts"]), row["provider_refund_id"] or "",
        KeysState(row["keys_state"]), row["keys_reason"] or "", bool(row["override_redeemed"]),
        row["closed_action"] or "",
    )


class PgSagaRepository(SagaRepository):
    def __init__(self, uow: PgOrdersUnitOfWork) -> None:
        self._uow = uow

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[Any]:
        async with self._uow.statement(lock=False) as conn:
            cur = await conn.execute(query, params)
            rows: list[Any] = await cur.fetchall()
        return rows

    async def due(self, kind: str, now: datetime, limit: int) -> list[str]:
        rows = await self._fetch(
            "SELECT aggregate_id FROM due_events WHERE kind = %s AND due_at <= %s"
            " ORDER BY due_at, aggregate_id LIMIT %s",
            (kind, now, limit),
        )
        return [r["aggregate_id"] for r in rows]

    async def refunds(self, refund_ids: Sequence[str]) -> dict[str, Refund]:
        if not refund_ids:
            return {}
        rows = await self._fetch(
            "SELECT * FROM refunds WHERE refund_id = ANY(%s::text[])", (list(refund_ids),)
        )
        return {r["refund_id"]: _refund(r) for r in rows}

    async def refunds_of_order(self, order_id: str) -> list[Refund]:
        rows = await self._fetch(
            "SELECT * FROM refunds WHERE order_id = %s ORDER BY requested_at, refund_id", (order_id,)
        )
        return [_refund(r) for r in rows]

    async def refunds_of_orders(self, order_ids: Sequence[str]) -> dict[str, list[Refund]]:
        found: dict[str, list[Refund]] = {o: [] for o in order_ids}
        if not order_ids:
            return found
        rows = await self._fetch(
            "SELECT * FROM refunds WHERE order_id = ANY(%s::text[]) ORDER BY requested_at, refund_id",
            (list(order_ids),),
        )
        for r in rows:
            found[r["order_id"]].append(_refund(r))
        return found

    async def queue(
        self, include_resolved: bool, limit: int, order_id: str = "",
        after: tuple[datetime, str] | None = None,
    ) -> list[QueueEntry]:
        rows = await self._fetch(
            "SELECT q.order_id, q.reason, q.source, q.queued_at, q.resolution, q.actor, o.status"
            " FROM exception_queue q LEFT JOIN orders o ON o.order_id = q.order_id"
            " WHERE (%s = '' OR q.order_id = %s)"
            f"{' AND (q.queued_at, q.order_id) > (%s::timestamptz, %s::text)' if after is not None else ''}"
            # Open: no operator acted, and the order did not end since (a late redemption's entry: never).
            " AND (%s OR (q.resolution IS NULL AND (q.source = 'redeemed_after_refund'"
            " OR coalesce(o.status, '') <> 'REFUNDED'"
            " AND (q.source IN ('channel', 'refund') OR coalesce(o.status, '') <> 'FULFILLED'))))"
            " ORDER BY q.queued_at, q.order_id LIMIT %s",
            (order_id, order_id, *(after or ()), include_resolved, limit),
        )
        return [
            queue_entry(r["order_id"], r["reason"], r["source"], r["queued_at"].astimezone(UTC),
                        r["resolution"], r["actor"], r["status"])
            for r in rows
        ]

    async def awaiting_payment(self, placed_from: datetime, placed_to: datetime, limit: int) -> list[str]:
        rows = await self._fetch(
            "SELECT order_id FROM orders WHERE status IN ('PENDING_PAYMENT', 'UNDER_REVIEW')"
            " AND captured_txn_id IS NULL AND created_at BETWEEN %s AND %s ORDER BY created_at LIMIT %s",
            (placed_from, placed_to, limit),
        )
        return [r["order_id"] for r in rows]


# Transaction-scoped advisory locks, one per SKU, buyer and client address, taken in the order of their
# 64-bit keys (so two placements never wait for each other in a cycle). The function runs after the sort.
_LOCK_HOLDS = (
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(x, 0) AS k"
    " FROM unnest(%s::text[]) AS x) AS h ORDER BY k"
)
# A statement of its own after the locks: its snapshot sees every hold committed before they were granted.
_COUNT_HOLDS = (
    "SELECT 's' AS kind, sku_id AS key, sum(quantity)::bigint AS n FROM stock_holds"
    " WHERE sku_id = ANY(%s::text[]) GROUP BY sku_id"
    " UNION ALL SELECT 'b', buyer_id, count(DISTINCT order_id) FROM stock_holds"
    " WHERE buyer_id = ANY(%s::text[]) GROUP BY buyer_id"
    " UNION ALL SELECT 'c', client_tag, count(DISTINCT order_id) FROM stock_holds"
    " WHERE client_tag = ANY(%s::text[]) AND client_tag <> '' GROUP BY client_tag"
)


class PgHoldRepository(HoldRepository):
    def __init__(self, uow: PgOrdersUnitOfWork) -> None:
        self._uow = uow

    async def lock_and_count(
        self, sku_ids: Sequence[str], buyer_ids: Sequence[str], client_tags: Sequence[str]
    ) -> Holds:
        tags = [t for t in client_tags if t]
        keys = [f"s:{s}" for s in sku_ids] + [f"b:{b}" for b in buyer_ids] + [f"c:{t}" for t in tags]
        async with self._uow.statement(lock=True) as conn:
            await conn.execute(_LOCK_HOLDS, (keys,))  # in a pipeline: one round trip with the count
            cur = await conn.execute(_COUNT_HOLDS, (list(sku_ids), list(buyer_ids), tags))
            rows: list[Any] = await cur.fetchall()
        holds = Holds()
        tables = {"s": holds.by_sku, "b": holds.by_buyer, "c": holds.by_client}
        for r in rows:
            tables[r["kind"]][r["key"]] = int(r["n"])
        return holds


class _PgOrdersEventLog(EventLog):
    def __init__(self, uow: PgOrdersUnitOfWork) -> None:
        self._uow = uow

    async def append(self, events: Sequence[NewEvent]) -> list[Envelope]:
        if not events:
            return []
        async with self._uow.appending() as conn:
            return await self._uow.store.append(conn, events)


class PgOrdersUnitOfWork(PgUnitOfWork, OrdersUnitOfWork):
    """Orders' unit of work on Postgres: its own implicit transaction on a pooled connection (pool=...), or
    a consumer's transaction (conn=...). See the module's docstring for what each costs."""

    def __init__(self, store: EventStore, pool: Any = None, conn: Any = None) -> None:
        self.store = store
        self._pipeline: AbstractAsyncContextManager[Any] | None = None
        super().__init__(store, pool=pool, conn=conn)

    def _attach(self, conn: Any) -> None:
        self.conn = conn
        self.events = _PgOrdersEventLog(self)
        self.orders = PgOrderRepository(self)
        self.saga = PgSagaRepository(self)
        self.holds = PgHoldRepository(self)
        self.coupons = PgCouponRepository(self)

    # -- own transaction -----------------------------------------------------------------------------

    async def _begin(self) -> None:
        if self._bound:
            return
        self._cm = self._pool.connection()
        conn = await self._cm.__aenter__()
        try:
            await conn.set_autocommit(True)
        except BaseException:
            await self._cm.__aexit__(None, None, None)
            self._cm = None
            raise
        self._attach(conn)

    async def _enter_pipeline(self) -> None:
        if self._pipeline is None:
            self._pipeline = self.conn.pipeline()
            await self._pipeline.__aenter__()

    @asynccontextmanager
    async def statement(self, *, lock: bool) -> AsyncIterator[Any]:
        """The connection for a read; a locking one (and any read after one) runs in the transaction."""
        if not self._bound and lock:
            await self._enter_pipeline()
        async with translated_violations():  # a read in the pipeline reports the appends before it
            yield self.conn

    @asynccontextmanager
    async def appending(self) -> AsyncIterator[Any]:
        """The connection for an append: queued in the transaction's pipeline, or (bound to a consumer's
        transaction) sent in a pipeline of its own, one round trip."""
        async with translated_violations():  # in a pipeline, an error shows at any later statement
            if self._bound:
                async with self.conn.pipeline():
                    yield self.conn
                return
            await self._enter_pipeline()
            yield self.conn

    async def commit(self) -> None:
        if self._bound:
            return
        await self._end(commit=True)

    async def _end(self, commit: bool) -> None:
        if self._bound or self._cm is None:
            return
        conn, cm, pipeline = self.conn, self._cm, self._pipeline
        self._cm = self._pipeline = self.conn = None  # the connection goes back to the pool
        try:
            if pipeline is not None:
                if commit:
                    async with translated_violations():
                        await pipeline.__aexit__(None, None, None)  # the Sync: commits, or rolls back
                else:
                    try:
                        await conn.execute("ROLLBACK")
                    finally:
                        await pipeline.__aexit__(None, None, None)
        except Exception:
            if commit:
                raise
        finally:
            try:
                if not conn.closed:
                    await conn.set_autocommit(False)
            except Exception:
                await conn.close()  # in no state to serve another unit: the pool drops a closed connection
            finally:
                await cm.__aexit__(None, None, None)
