"""The user centre: one row per delivered key (KeyDelivered), with its redemption (Redeemed).

Per batch: one INSERT of every delivered key, one UPDATE of every redeemed key (unnest), in that order, so a
key delivered and redeemed within one batch ends redeemed. A row's fields come from its order's
KeyDelivered and its key's Redeemed only, which follow each other causally: replay gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import errors
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_fulfillment.adapters.codec import KEY_DELIVERED, REDEEMED, recorded_of
from quanyi_fulfillment.domain.errors import KeyAlreadyDelivered
from quanyi_fulfillment.domain.events import KeyDelivered, Redeemed


class Deliveries(Projection):
    name = "deliveries"
    tables = ("deliveries",)
    handles = frozenset({KEY_DELIVERED, REDEEMED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        delivered: list[KeyDelivered] = []
        redeemed: list[Redeemed] = []
        for stored in events:
            recorded = recorded_of(stored)
            if recorded is None:
                continue
            if isinstance(recorded.event, KeyDelivered):
                delivered.append(recorded.event)
            elif isinstance(recorded.event, Redeemed):
                redeemed.append(recorded.event)
        if delivered:
            await self._insert(conn, delivered)
        if redeemed:
            await conn.execute(
                "UPDATE deliveries AS d SET redeemed_at = u.at, redeemed_by_partner = u.partner"
                " FROM unnest(%b::text[], %b::timestamptz[], %b::text[]) AS u(key_id, at, partner)"
                " WHERE d.key_id = u.key_id",
                (
                    [r.key_id for r in redeemed],
                    [r.redeemed_at for r in redeemed],
                    [r.partner for r in redeemed],
                ),
            )

    async def _insert(self, conn: Any, delivered: list[KeyDelivered]) -> None:
        rows = [(d, k) for d in delivered for k in d.keys]
        try:
            await conn.execute(
                "INSERT INTO deliveries (order_id, key_id, sku_id, buyer_id, line_no, unit_no,"
                " unit_cost_minor, currency, delivered_at)"
                " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::int[], %b::int[],"
                " %b::bigint[], %b::text[], %b::timestamptz[])",
                (
                    [d.order_id for d, _ in rows],
                    [k.key_id for _, k in rows],
                    [k.sku_id for _, k in rows],
                    [d.buyer_id for d, _ in rows],
                    [k.line_no for _, k in rows],
                    [k.unit_no for _, k in rows],
                    [k.unit_cost.minor_units for _, k in rows],
                    [k.unit_cost.currency for _, k in rows],
                    [d.at for d, _ in rows],
                ),
            )
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "deliveries_key_id_key":
                raise KeyAlreadyDelivered("a delivered key is already another order's") from None
            raise
