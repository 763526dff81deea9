"""`coupons` and `coupon_uses`: the operator's coupons, and the uses orders hold of them.

CouponCreated inserts a coupon (its terms kept as the event's payload), CouponDisabled marks it. An
OrderPlaced with a coupon inserts its use; the order's OrderCancelled, OrderExpired or OrderRefunded
releases it, and an OrderPaid with a discount takes it again (a late payment of an expired order). A
batch's events are folded first, per row, in the order they were recorded, so each row is written once;
rows are one coupon's or one order's, and at most four set-based statements run per batch (none for a
batch of plain orders placed or paid). A partial refund keeps the use: only the whole order's refund,
which is its OrderRefunded, gives it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_orders.domain.coupon import code_key

_CREATED = pb_events.CouponCreated.DESCRIPTOR.full_name
_DISABLED = pb_events.CouponDisabled.DESCRIPTOR.full_name
_PLACED = pb_events.OrderPlaced.DESCRIPTOR.full_name
_PAID = pb_events.OrderPaid.DESCRIPTOR.full_name
_RELEASES = frozenset(m.DESCRIPTOR.full_name for m in (
    pb_events.OrderCancelled, pb_events.OrderExpired, pb_events.OrderRefunded,
))

_INSERT_COUPONS = (
    "INSERT INTO coupons (code_key, code, terms, disabled, version, created_at, created_by)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::bytea[], %b::boolean[], %b::integer[],"
    " %b::timestamptz[], %b::text[])"
)
_DISABLE_COUPONS = (
    "UPDATE coupons SET disabled = true, version = version + 1"
    " WHERE code_key = ANY(%b::text[]) AND NOT disabled"
)
_INSERT_USES = (
    "INSERT INTO coupon_uses (order_id, code_key, buyer_id, discount_minor, currency, placed_at, released)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::timestamptz[],"
    " %b::boolean[])"
)
_MARK_USES = (
    "UPDATE coupon_uses AS c SET released = u.released"
    " FROM unnest(%b::text[], %b::boolean[]) AS u(order_id, released) WHERE c.order_id = u.order_id"
)


class CouponsProjection(Projection):
    """The coupons and their uses (see the module's docstring)."""

    name = "coupons"
    tables = ("coupons", "coupon_uses")
    handles = frozenset({_CREATED, _DISABLED, _PLACED, _PAID, *_RELEASES})
    indexes_after_load = frozenset({"coupons_created", "coupon_uses_held"})  # it writes by primary key

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        created: dict[str, list[Any]] = {}
        disabled: list[str] = []
        placed: dict[str, list[Any]] = {}
        released: dict[str, bool] = {}  # orders placed before the batch: their use's final state
        for stored in events:
            p = stored.payload
            if stored.type == _CREATED:
                key = code_key(p.code)
                created[key] = [key, p.code, p.SerializeToString(), False, 1, stored.occurred_at, p.actor]
            elif stored.type == _DISABLED:
                key = code_key(p.code)
                if key in created:
                    created[key][3], created[key][4] = True, created[key][4] + 1
                else:
                    disabled.append(key)
            elif stored.type == _PLACED:
                if p.coupon_code and p.HasField("discount"):
                    placed[p.order_id] = [p.order_id, code_key(p.coupon_code), p.buyer_id,
                                          p.discount.minor_units, p.discount.currency, stored.occurred_at,
                                          False]
            elif stored.type == _PAID:
                if p.HasField("discount"):
                    self._mark(placed, released, p.order_id, False)
            elif stored.type in _RELEASES:
                self._mark(placed, released, p.order_id, True)
        # Never prepared: this runs behind other projections in one pipeline (see projections.holds).
        if created:
            rows = list(created.values())
            await conn.execute(_INSERT_COUPONS, [list(c) for c in zip(*rows, strict=True)], prepare=False)
        if disabled:
            await conn.execute(_DISABLE_COUPONS, [sorted(set(disabled))], prepare=False)
        if placed:
            rows = list(placed.values())
            await conn.execute(_INSERT_USES, [list(c) for c in zip(*rows, strict=True)], prepare=False)
        if released:
            ids = sorted(released)
            await conn.execute(_MARK_USES, [ids, [released[i] for i in ids]], prepare=False)

    @staticmethod
    def _mark(placed: dict[str, list[Any]], released: dict[str, bool], order_id: str, value: bool) -> None:
        if order_id in placed:
            placed[order_id][6] = value
        else:
            released[order_id] = value
