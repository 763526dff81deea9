"""The projections' part for an order's keys after their reservation: KeysDelivered, KeysRedeemed,
RefundKeysSettled, RefundKeysRefused and RefundedKeyRedeemed.

`keys`: one UPDATE per run of events of one type, each key moving from the state the event implies
(and only while its order holds it); a key that is not there is refused (the store would be
inconsistent). RefundedKeyRedeemed moves no key: the key stays as its refund left it. `allocations`: the
order's Allocation stream version (the highest seen). Table `refund_settlements` (projection
`refund_settlements`): one row per refund, written once. Table `refunded_keys` (projection
`refunded_keys`): one row per key a refund took back, and the redemption heard after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from quanyi.inventory.v1 import events_pb2 as pb
from quanyi_platform.projection import Projection, StoredEvent

from quanyi_inventory.projections._events import ProjectionError

KEYS_DELIVERED = pb.KeysDelivered.DESCRIPTOR.full_name
KEYS_REDEEMED = pb.KeysRedeemed.DESCRIPTOR.full_name
REFUND_KEYS_SETTLED = pb.RefundKeysSettled.DESCRIPTOR.full_name
REFUND_KEYS_REFUSED = pb.RefundKeysRefused.DESCRIPTOR.full_name
REFUNDED_KEY_REDEEMED = pb.RefundedKeyRedeemed.DESCRIPTOR.full_name
# The events that move keys (projection `keys`); with RefundedKeyRedeemed, the later versions of an order's
# Allocation stream (projection `allocations`).
KEY_MOVES = frozenset({KEYS_DELIVERED, KEYS_REDEEMED, REFUND_KEYS_SETTLED, REFUND_KEYS_REFUSED})
KEY_LIFE = KEY_MOVES | {REFUNDED_KEY_REDEEMED}

# (from state, to state, keeps its order) of each list of keys an event names.
_DELIVER = ("reserved", "delivered", True)
_REDEEM = ("delivered", "redeemed", True)
_RELEASE = ("reserved", "available", False)
_VOID = ("delivered", "recycled", False)
_VOID_UNDELIVERED = ("reserved", "recycled", False)
_OVERRIDE = ("redeemed", "redeemed", True)

Move = tuple[str, str, str, str, str, bool, datetime]
"""(key_id, order_id, from state, to state, refund_id, keeps its order, at)."""


def moves(e: StoredEvent) -> list[Move]:
    """The key transitions of one event."""
    p = e.payload
    at = e.occurred_at
    out: list[Move] = []

    def add(keys: Any, how: tuple[str, str, bool], refund_id: str = "", when: datetime = at) -> None:
        out.extend((k.key_id, p.order_id, how[0], how[1], refund_id, how[2], when) for k in keys)

    if isinstance(p, pb.KeysDelivered):
        add(p.keys, _DELIVER)
    elif isinstance(p, pb.KeysRedeemed):
        add(p.keys, _REDEEM, when=p.redeemed_at.ToDatetime(tzinfo=UTC) if p.HasField("redeemed_at") else at)
    elif isinstance(p, pb.RefundKeysSettled):
        add(p.released, _RELEASE)
        add(p.voided, _VOID, p.refund_id)
        add(p.voided_undelivered, _VOID_UNDELIVERED, p.refund_id)
        add(p.redeemed, _OVERRIDE, p.refund_id)
    return out


async def apply_to_keys(conn: Any, events: Sequence[StoredEvent]) -> None:
    """A run of key-life events of one type: every key moves in one UPDATE."""
    rows = [m for e in events for m in moves(e)]
    if not rows:
        return
    cols = [list(c) for c in zip(*rows, strict=True)]
    async with conn.cursor() as cur:
        await cur.execute(
            "UPDATE keys k SET state = m.to_state,"
            " order_id = CASE WHEN m.keeps THEN k.order_id END,"
            " line_no = CASE WHEN m.keeps THEN k.line_no END,"
            " unit_no = CASE WHEN m.keeps THEN k.unit_no END,"
            " reserved_at = CASE WHEN m.keeps THEN k.reserved_at END,"
            " delivered_at = CASE WHEN m.to_state = 'delivered' THEN m.at"
            "  WHEN m.keeps THEN k.delivered_at END,"
            " redeemed_at = CASE WHEN m.to_state = 'redeemed' AND m.from_state = 'delivered' THEN m.at"
            "  ELSE k.redeemed_at END,"
            " retired_at = CASE WHEN m.to_state = 'recycled' THEN m.at ELSE k.retired_at END,"
            " refund_id = NULLIF(m.refund_id, '')"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[],"
            " %s::timestamptz[]) AS m(key_id, order_id, from_state, to_state, refund_id, keeps, at)"
            " WHERE k.key_id = m.key_id AND k.order_id = m.order_id AND k.state = m.from_state",
            cols,
        )
        if cur.rowcount != len(rows):
            raise ProjectionError(
                f"{len(rows) - cur.rowcount} of {len(rows)} keys were not in the state their event moves"
                " them from"
            )


async def apply_to_allocations(conn: Any, events: Sequence[StoredEvent]) -> None:
    """The Allocation stream's version of each order (the highest of the batch)."""
    versions: dict[str, int] = {}
    for e in events:
        order_id = e.payload.order_id
        versions[order_id] = max(versions.get(order_id, 0), e.aggregate_version)
    ids = sorted(versions)
    await conn.execute(
        # `a.order_id = ANY(...)` too: joined to the unnest alone, a custom plan hashed a sequential scan of
        # every allocation into each batch of deliveries (~3.4 ms at 4,000 orders, 0.8 with it).
        "UPDATE allocations a SET version = GREATEST(a.version, v.version)"
        " FROM unnest(%s::text[], %s::int[]) AS v(order_id, version)"
        " WHERE a.order_id = ANY(%s::text[]) AND a.order_id = v.order_id",
        (ids, [versions[i] for i in ids], ids),
    )


class RefundSettlementsProjection(Projection):
    name = "refund_settlements"
    tables = ("refund_settlements",)
    handles = frozenset({REFUND_KEYS_SETTLED, REFUND_KEYS_REFUSED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        rows = []
        for e in events:
            p = e.payload
            if isinstance(p, pb.RefundKeysSettled):
                rows.append((p.refund_id, p.order_id, "settled", len(p.released),
                             len(p.voided) + len(p.voided_undelivered), len(p.redeemed), p.override_redeemed,
                             p.actor, p.note, "", e.occurred_at))
            else:
                rows.append((p.refund_id, p.order_id, "refused", 0, 0, 0, False, p.actor, "", p.reason,
                             e.occurred_at))
        cols = [list(c) for c in zip(*rows, strict=True)]
        await conn.execute(
            "INSERT INTO refund_settlements (refund_id, order_id, outcome, released, voided, redeemed,"
            " override_redeemed, actor, note, reason, settled_at)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::int[], %s::int[],"
            " %s::boolean[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])"
            " ON CONFLICT (refund_id) DO NOTHING",
            cols,
        )


# The lists of keys a RefundKeysSettled took back, each named as refunded_keys.taken names what was done;
# its `redeemed` keys stay with the order (an override) and are not taken back.
_TAKEN = ("released", "voided", "voided_undelivered")

_INSERT_TAKEN = (
    "INSERT INTO refunded_keys (order_id, key_id, sku_id, pool_id, line_no, unit_no, refund_id, taken,"
    " refunded_at, redeemed_partner, redeemed_at, redemption_event_id, redemption_recorded_at)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::int[], %s::text[],"
    " %s::text[], %s::timestamptz[], %s::text[], %s::timestamptz[], %s::text[], %s::timestamptz[])"
    " ON CONFLICT (order_id, key_id) DO NOTHING"
)
_REDEEMED = (
    "UPDATE refunded_keys r SET redeemed_partner = u.partner, redeemed_at = u.redeemed_at,"
    " redemption_event_id = u.event_id, redemption_recorded_at = u.recorded_at"
    " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::timestamptz[])"
    " AS u(order_id, key_id, partner, redeemed_at, event_id, recorded_at)"
    " WHERE r.order_id = ANY(%s::text[]) AND r.order_id = u.order_id AND r.key_id = u.key_id"
    " AND r.redemption_event_id IS NULL"
)

Redemption = tuple[str, datetime, str, datetime]
"""(partner, redeemed at: the partner's time or else the event's, fulfillment's event id, recorded at)."""


def late_redemption(e: StoredEvent) -> Redemption:
    """What a RefundedKeyRedeemed tells of the redemption."""
    p: pb.RefundedKeyRedeemed = e.payload
    at = p.redeemed_at.ToDatetime(tzinfo=UTC) if p.HasField("redeemed_at") else e.occurred_at
    return (p.partner, at, p.redemption_event_id, e.occurred_at)


class RefundedKeysProjection(Projection):
    """`refunded_keys`: the keys refunds took back (RefundKeysSettled), one row each, and the redemption
    heard after the refund (RefundedKeyRedeemed), each written once. At most two statements a batch: the
    batch's taken keys, folded with their redemptions of the same batch, in one INSERT; redemptions of keys
    taken back in earlier batches in one UPDATE. A redemption of a key no refund took back is refused (the
    store would be inconsistent)."""

    name = "refunded_keys"
    tables = ("refunded_keys",)
    handles = frozenset({REFUND_KEYS_SETTLED, REFUNDED_KEY_REDEEMED})

    async def apply(self, conn: Any, events: Sequence[StoredEvent]) -> None:
        taken: dict[tuple[str, str], list[Any]] = {}
        later: dict[tuple[str, str], Redemption] = {}
        for e in events:
            p = e.payload
            if isinstance(p, pb.RefundKeysSettled):
                for how in _TAKEN:
                    for k in getattr(p, how):
                        taken.setdefault((p.order_id, k.key_id), [
                            p.order_id, k.key_id, k.sku_id, k.pool_id, k.line_no, k.unit_no, p.refund_id, how,
                            e.occurred_at, None, None, None, None,
                        ])
                continue
            at = (p.order_id, p.key.key_id)
            row = taken.get(at)
            if row is not None:
                if row[11] is None:
                    row[9:] = late_redemption(e)
            else:
                later.setdefault(at, late_redemption(e))
        if taken:
            await conn.execute(_INSERT_TAKEN, [list(c) for c in zip(*taken.values(), strict=True)])
        if later:
            ids = [o for o, _ in later]
            values = list(later.values())
            async with conn.cursor() as cur:
                await cur.execute(_REDEEMED, (
                    ids, [k for _, k in later], [v[0] for v in values], [v[1] for v in values],
                    [v[2] for v in values], [v[3] for v in values], sorted(set(ids)),
                ))
                if cur.rowcount != len(later):
                    raise ProjectionError(
                        f"{len(later) - cur.rowcount} of {len(later)} keys redeemed after their refund were"
                        " not taken back by a refund, or their redemption was recorded already"
                    )
