"""Orders' coupon port on Postgres: the `coupons` and `coupon_uses` projections, locked per coupon."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from quanyi.orders.v1 import events_pb2 as pb_events

from quanyi_orders.adapters.coupon_mapping import terms_from_proto
from quanyi_orders.application.ports import CouponRepository
from quanyi_orders.domain.coupon import Coupon, Usage

if TYPE_CHECKING:
    from quanyi_orders.adapters.postgres import PgOrdersUnitOfWork

_COLUMNS = "c.code_key, c.terms, c.disabled, c.version, c.created_at, c.created_by"
# Row locks in key order (two placements never wait for each other in a cycle), then the counts in a
# statement of their own: its snapshot sees every use committed before the locks were granted.
_LOCK = "SELECT code_key FROM coupons WHERE code_key = ANY(%s::text[]) ORDER BY code_key FOR UPDATE"
_COUNT = (
    f"SELECT {_COLUMNS},"
    " (SELECT count(*) FROM coupon_uses u WHERE u.code_key = c.code_key AND NOT u.released) AS uses,"
    " ARRAY(SELECT u.buyer_id FROM coupon_uses u WHERE u.code_key = c.code_key AND NOT u.released"
    " AND u.buyer_id = ANY(%s::text[])) AS buyers"
    " FROM coupons c WHERE c.code_key = ANY(%s::text[])"
)
_GET = f"SELECT {_COLUMNS} FROM coupons c WHERE c.code_key = %s"
# Newest first, then by code key: coupons_created's order, so a page reads its rows and no more.
_LIST = (
    f"SELECT {_COLUMNS},"
    " (SELECT count(*) FROM coupon_uses u WHERE u.code_key = c.code_key AND NOT u.released) AS uses"
    " FROM coupons c {after}ORDER BY c.created_at DESC, c.code_key LIMIT %s"
)
# Present only with a position (see adapters.postgres._BEFORE).
_AFTER = "WHERE c.created_at < %s::timestamptz OR (c.created_at = %s::timestamptz AND c.code_key > %s::text) "


def _coupon(row: Any) -> Coupon:
    created = pb_events.CouponCreated.FromString(bytes(row["terms"]))
    return Coupon(terms_from_proto(created), row["created_by"], row["created_at"].astimezone(UTC),
                  bool(row["disabled"]), int(row["version"]))


class PgCouponRepository(CouponRepository):
    def __init__(self, uow: PgOrdersUnitOfWork) -> None:
        self._uow = uow

    async def get(self, key: str) -> Coupon | None:
        async with self._uow.statement(lock=False) as conn:
            cur = await conn.execute(_GET, (key,))
            row = await cur.fetchone()
        return _coupon(row) if row is not None else None

    async def lock_and_count(
        self, keys: Sequence[str], buyer_ids: Sequence[str]
    ) -> dict[str, tuple[Coupon, Usage]]:
        async with self._uow.statement(lock=True) as conn:
            await conn.execute(_LOCK, (sorted(set(keys)),))
            cur = await conn.execute(_COUNT, (list(buyer_ids), list(keys)))
            rows: list[Any] = await cur.fetchall()
        found: dict[str, tuple[Coupon, Usage]] = {}
        for r in rows:
            by_buyer: dict[str, int] = {}
            for b in r["buyers"]:
                by_buyer[b] = by_buyer.get(b, 0) + 1
            found[r["code_key"]] = (_coupon(r), Usage(int(r["uses"]), by_buyer))
        return found

    async def list(self, limit: int, after: tuple[datetime, str] | None = None) -> list[tuple[Coupon, int]]:
        query = _LIST.format(after=_AFTER if after is not None else "")
        params = (after[0], after[0], after[1], limit) if after is not None else (limit,)
        async with self._uow.statement(lock=False) as conn:
            cur = await conn.execute(query, params)
            rows: list[Any] = await cur.fetchall()
        return [(_coupon(r), int(r["uses"])) for r in rows]
