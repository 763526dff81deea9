"""Fulfillment's unit of work on Postgres: the event store with the projections inline, and reads of them.

Every function runs in the unit of work's transaction; none ever sees a key's secret.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from quanyi_platform.envelope import open_envelope
from quanyi_platform.eventstore import EventStore
from quanyi_platform.projection import StoredEvent
from quanyi_platform.uow import PgUnitOfWork

from quanyi_fulfillment.adapters import codec
from quanyi_fulfillment.application.ports import (
    BuyerEntitlements,
    DueEmails,
    DueKept,
    FulfillmentUnitOfWork,
    MembershipGrant,
    PointsCredit,
)
from quanyi_fulfillment.domain.aggregate import DeliveredKey, Delivery, Email, EmailStatus
from quanyi_fulfillment.domain.delivery import Money
from quanyi_fulfillment.domain.entitlements import Membership, PlanKey
from quanyi_fulfillment.domain.events import Recorded
from quanyi_fulfillment.domain.kept_channels import KeptDelivery, KeptStatus
from quanyi_fulfillment.domain.latency import LatencyStats

_COLUMNS = (
    "d.order_id, d.key_id, d.sku_id, d.buyer_id, d.line_no, d.unit_no, d.unit_cost_minor, d.currency,"
    " d.delivered_at, d.redeemed_at, d.redeemed_by_partner, e.state, e.attempts,"
    " e.next_attempt_at, e.last_error, e.lease, e.updated_at, e.version"
)
_ORDER = "d.order_id, d.line_no, d.unit_no, d.key_id"
_WAITING = "state IN ('pending', 'sending')"


def _deliveries(rows: Sequence[Any]) -> list[Delivery]:
    """Deliveries from joined rows (one per key), in the order their orders first appear."""
    keys: dict[str, list[DeliveredKey]] = {}
    first: dict[str, Any] = {}
    for row in rows:
        if row["order_id"] is None:
            continue
        first.setdefault(row["order_id"], row)
        keys.setdefault(row["order_id"], []).append(
            DeliveredKey(
                row["key_id"], row["sku_id"], row["line_no"], row["unit_no"],
                Money(row["unit_cost_minor"], row["currency"]),
                row["redeemed_at"], row["redeemed_by_partner"],
            )
        )
    out = []
    for order_id, row in first.items():
        email = None
        if row["state"] is not None:
            email = Email(
                EmailStatus(row["state"]), row["attempts"], row["next_attempt_at"],
                row["last_error"], row["lease"], row["updated_at"],
            )
        version = int(row["version"]) if email is not None else 1
        ordered = tuple(sorted(keys[order_id], key=lambda k: (k.line_no, k.unit_no, k.key_id)))
        out.append(Delivery(order_id, row["buyer_id"], row["delivered_at"], version, ordered, email))
    return out


class PgDeliveryRepository:
    """DeliveryRepository over the `deliveries` and `email_outbox` projections."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def get_many(self, order_ids: Collection[str]) -> dict[str, Delivery]:
        if not order_ids:
            return {}
        # An index probe per order whatever the statistics say (the lateral subqueries are kept apart by
        # OFFSET 0 and LIMIT): as `d.order_id = ANY(...)` joined to email_outbox, a custom plan hashed a
        # sequential scan of email_outbox, and often of deliveries, for every batch (~9 ms at 4,000 orders).
        cur = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM unnest(%s::text[]) AS w(order_id)"
            f" CROSS JOIN LATERAL (SELECT * FROM deliveries WHERE order_id = w.order_id OFFSET 0) AS d"
            f" LEFT JOIN LATERAL (SELECT * FROM email_outbox WHERE order_id = w.order_id LIMIT 1) AS e"
            f" ON true ORDER BY {_ORDER}",
            (sorted(set(order_ids)),),
        )
        return {d.order_id: d for d in _deliveries(await cur.fetchall())}

    async def by_key(self, key_id: str) -> Delivery | None:
        cur = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM deliveries AS d LEFT JOIN email_outbox AS e ON e.order_id = d.order_id"
            f" WHERE d.order_id = (SELECT order_id FROM deliveries WHERE key_id = %s) ORDER BY {_ORDER}",
            (key_id,),
        )
        found = _deliveries(await cur.fetchall())
        return found[0] if found else None

    async def for_buyer(
        self,
        buyer_id: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
        order_ids: Collection[str] | None = None,
    ) -> list[Delivery]:
        # The page's orders first (on migration 013's index), then their keys. Each optional clause is
        # written only when it applies (a generic plan cannot drop '%s IS NULL OR': ENGINEERING, paging).
        where = ["buyer_id = %(buyer)s"]
        if order_ids is not None:
            where.append("order_id = ANY(%(orders)s)")
        if after is not None:
            where.append("(delivered_at, order_id) < (%(at)s, %(id)s)")
        cur = await self._conn.execute(
            f"WITH page AS ("
            f"  SELECT DISTINCT delivered_at, order_id FROM deliveries WHERE {' AND '.join(where)}"
            f"  ORDER BY delivered_at DESC, order_id DESC LIMIT %(limit)s"
            f") SELECT {_COLUMNS} FROM page JOIN deliveries AS d ON d.order_id = page.order_id"
            f" LEFT JOIN email_outbox AS e ON e.order_id = d.order_id"
            f" ORDER BY page.delivered_at DESC, page.order_id DESC, d.line_no, d.unit_no, d.key_id",
            {
                "buyer": buyer_id, "orders": list(order_ids or ()), "limit": limit,
                "at": after[0] if after else None, "id": after[1] if after else None,
            },
        )
        return _deliveries(await cur.fetchall())

    async def order_events(self, order_ids: Collection[str]) -> list[Recorded]:
        cur = await self._conn.execute(
            "SELECT seq, envelope, occurred_at FROM events WHERE correlation_id = ANY(%s::text[])"
            " ORDER BY seq",
            (list(order_ids),),
        )
        found: list[Recorded] = []
        for row in await cur.fetchall():
            envelope, payload = open_envelope(bytes(row["envelope"]))
            if payload is None:
                continue
            recorded = codec.recorded_of(StoredEvent(envelope, payload, row["occurred_at"], row["seq"]))
            if recorded is not None:
                found.append(recorded)
        return found

    async def claim_due(self, now: datetime, limit: int) -> DueEmails:
        # One statement: lock the due e-mails (skipping those another claim holds), read their deliveries,
        # and find when the next e-mail not due yet falls due. The outer join keeps that one row when
        # nothing is due.
        cur = await self._conn.execute(
            f"WITH due AS ("
            f"  SELECT order_id, next_attempt_at FROM email_outbox"
            f"  WHERE {_WAITING} AND next_attempt_at <= %(now)s"
            f"  ORDER BY next_attempt_at, order_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
            f"), later AS ("
            f"  SELECT min(next_attempt_at) AS next_due FROM email_outbox"
            f"  WHERE {_WAITING} AND next_attempt_at > %(now)s"
            f")"
            f" SELECT later.next_due, x.* FROM later LEFT JOIN ("
            # Each due e-mail's deliveries by index, whatever the estimates: joined plainly, the planner
            # took `due` for its LIMIT (50) and hashed a sequential scan of every delivery per claim.
            f"  SELECT due.next_attempt_at AS due_at, {_COLUMNS} FROM due"
            f"  CROSS JOIN LATERAL (SELECT * FROM deliveries WHERE order_id = due.order_id OFFSET 0) AS d"
            f"  JOIN email_outbox AS e ON e.order_id = due.order_id"
            f") AS x ON true ORDER BY x.due_at, x.order_id, x.line_no, x.unit_no, x.key_id",
            {"now": now, "limit": limit},
        )
        rows = await cur.fetchall()
        return DueEmails(_deliveries(rows), rows[0]["next_due"] if rows else None)


def _kept(row: Any) -> KeptDelivery:
    return KeptDelivery(
        row["order_id"], row["channel"], KeptStatus(row["state"]), row["due_at"], row["lease"],
        int(row["version"]),
    )


class PgKeptChannelRepository:
    """KeptChannelRepository over the `kept_channels` projection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def claim_due(self, now: datetime, limit: int) -> DueKept:
        # One statement, as the e-mail's claim: the due rows locked (skipping those another claim holds)
        # and the next due time of the others; the outer join keeps that one row when nothing is due.
        cur = await self._conn.execute(
            "WITH due AS ("
            "  SELECT order_id, channel, state, due_at, lease, version FROM kept_channels"
            "  WHERE due_at <= %(now)s ORDER BY due_at, order_id, channel LIMIT %(limit)s"
            "  FOR UPDATE SKIP LOCKED"
            "), later AS (SELECT min(due_at) AS next_due FROM kept_channels WHERE due_at > %(now)s)"
            " SELECT later.next_due, due.* FROM later LEFT JOIN due ON true"
            " ORDER BY due.due_at, due.order_id, due.channel",
            {"now": now, "limit": limit},
        )
        rows = await cur.fetchall()
        return DueKept(
            [_kept(r) for r in rows if r["order_id"] is not None], rows[0]["next_due"] if rows else None
        )

    async def get_many(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], KeptDelivery]:
        if not keys:
            return {}
        cur = await self._conn.execute(
            "SELECT k.* FROM kept_channels AS k JOIN unnest(%s::text[], %s::text[]) AS u(order_id, channel)"
            " ON k.order_id = u.order_id AND k.channel = u.channel",
            ([o for o, _ in keys], [c for _, c in keys]),
        )
        return {(r["order_id"], r["channel"]): _kept(r) for r in await cur.fetchall()}


class PgEntitlementRepository:
    """EntitlementRepository over the `entitlements` projection's tables."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def memberships(self, keys: Collection[PlanKey]) -> dict[PlanKey, Membership]:
        ordered = sorted(set(keys))
        cur = await self._conn.execute(
            "SELECT m.* FROM memberships AS m JOIN unnest(%s::text[], %s::text[]) AS u(buyer_id, plan)"
            " ON m.buyer_id = u.buyer_id AND m.plan = u.plan",
            ([b for b, _ in ordered], [p for _, p in ordered]),
        )
        return {
            (r["buyer_id"], r["plan"]): Membership(
                r["buyer_id"], r["plan"], r["valid_until"], int(r["version"])
            )
            for r in await cur.fetchall()
        }

    async def granted_orders(self, order_ids: Collection[str]) -> set[str]:
        cur = await self._conn.execute(
            "SELECT order_id FROM points_credits WHERE order_id = ANY(%(o)s::text[])"
            " UNION SELECT order_id FROM membership_grants WHERE order_id = ANY(%(o)s::text[])",
            {"o": sorted(set(order_ids))},
        )
        return {r["order_id"] for r in await cur.fetchall()}

    async def for_buyer(self, buyer_id: str) -> BuyerEntitlements:
        b = {"b": buyer_id}
        async with self._conn.pipeline():
            balance = await self._conn.execute("SELECT points FROM points_balances WHERE buyer_id = %(b)s", b)
            credits = await self._conn.execute(
                "SELECT * FROM points_credits WHERE buyer_id = %(b)s"
                " ORDER BY credited_at, order_id, line_no, unit_no", b,
            )
            plans = await self._conn.execute(
                "SELECT * FROM memberships WHERE buyer_id = %(b)s ORDER BY plan", b
            )
            grants = await self._conn.execute(
                "SELECT * FROM membership_grants WHERE buyer_id = %(b)s ORDER BY plan, version", b
            )
        row = await balance.fetchone()
        return BuyerEntitlements(
            int(row["points"]) if row else 0,
            [
                PointsCredit(
                    r["order_id"], r["line_no"], r["unit_no"], int(r["points"]), r["credited_at"],
                    r["debited_at"],
                )
                for r in await credits.fetchall()
            ],
            [
                Membership(r["buyer_id"], r["plan"], r["valid_until"], int(r["version"]))
                for r in await plans.fetchall()
            ],
            [
                MembershipGrant(
                    r["order_id"], r["line_no"], r["unit_no"], r["plan"], r["days"], r["valid_from"],
                    r["valid_until"], r["shortened_at"],
                )
                for r in await grants.fetchall()
            ],
        )


class PgLatencyRepository:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def stats(self, start: datetime, end: datetime, bucket: str) -> list[LatencyStats]:
        # One statement; the percentiles are Postgres' percentile_cont, as domain.latency.percentile.
        cur = await self._conn.execute(
            "SELECT date_trunc(%(b)s, delivered_at, 'UTC') AS start, count(*) AS orders,"
            " percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS p"
            " FROM delivery_latency WHERE delivered_at >= %(s)s AND delivered_at < %(e)s"
            " GROUP BY 1 ORDER BY 1",
            {"b": bucket, "s": start, "e": end},
        )
        return [
            LatencyStats(r["start"].astimezone(UTC), int(r["orders"]), *(float(p) for p in r["p"]))
            for r in await cur.fetchall()
        ]


class PgFulfillmentUnitOfWork(PgUnitOfWork, FulfillmentUnitOfWork):
    """A transaction on a pooled connection (`pool=`), or bound to a consumer's transaction (`conn=`).

    `store` must carry fulfillment's PROJECTIONS, so every append updates them in the same transaction.
    """

    deliveries: PgDeliveryRepository
    kept: PgKeptChannelRepository
    entitlements: PgEntitlementRepository
    latency: PgLatencyRepository

    def __init__(self, store: EventStore, pool: Any = None, conn: Any = None) -> None:
        super().__init__(store, pool=pool, conn=conn)

    def _bind(self, conn: Any) -> None:
        self.deliveries = PgDeliveryRepository(conn)
        self.kept = PgKeptChannelRepository(conn)
        self.entitlements = PgEntitlementRepository(conn)
        self.latency = PgLatencyRepository(conn)

    async def record(self, records: Sequence[Recorded]) -> None:
        if records:
            await self.events.append([codec.new_event(r) for r in records])
