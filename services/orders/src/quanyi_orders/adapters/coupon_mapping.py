"""Coupons' domain events and read model <-> the protos of quanyi.orders.v1, and their envelopes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.message import Message
from quanyi.orders.v1 import events_pb2 as pb_events
from quanyi.orders.v1 import orders_service_pb2 as pb
from quanyi_platform.envelope import NewEvent

from quanyi_orders.adapters.proto_mapping import money_from_proto, money_to_proto, timestamp
from quanyi_orders.domain.coupon import (
    Coupon,
    CouponCreated,
    CouponDisabled,
    CouponEvent,
    CouponKind,
    CouponTerms,
    code_key,
)
from quanyi_orders.domain.money import Money

#: The aggregate type of a coupon in orders' event store; its id is the code, case-folded.
COUPON = "Coupon"
CREATED = pb_events.CouponCreated.DESCRIPTOR.full_name
DISABLED = pb_events.CouponDisabled.DESCRIPTOR.full_name

_KIND = {CouponKind.FIXED: pb_events.COUPON_KIND_FIXED, CouponKind.PERCENT: pb_events.COUPON_KIND_PERCENT}
_KIND_BACK = {v: k for k, v in _KIND.items()}


def _money(m: Money | None) -> Message | None:
    return money_to_proto(m) if m is not None else None


def event_to_proto(ev: CouponEvent) -> Message:
    if isinstance(ev, CouponCreated):
        t = ev.terms
        return pb_events.CouponCreated(
            code=t.code, kind=_KIND[t.kind], amount_off=_money(t.amount_off),
            percent_off_bps=t.percent_off_bps,
            max_discount=_money(t.max_discount), min_order=_money(t.min_order), sku_ids=sorted(t.sku_ids),
            valid_from=timestamp(t.valid_from), expires_at=timestamp(t.expires_at), total_cap=t.total_cap,
            per_buyer_cap=t.per_buyer_cap, actor=ev.actor,
        )
    return pb_events.CouponDisabled(code=ev.code, actor=ev.actor)


def event_from_proto(payload: Message, occurred_at: datetime) -> CouponEvent:
    """The coupon event a recorded payload stands for; a CouponCreated's time is its envelope's."""
    if isinstance(payload, pb_events.CouponCreated):
        return CouponCreated(terms_from_proto(payload), payload.actor, occurred_at.astimezone(UTC))
    if isinstance(payload, pb_events.CouponDisabled):
        return CouponDisabled(payload.code, payload.actor)
    raise TypeError(f"not a coupon event: {type(payload).__name__}")


def terms_from_proto(p: pb_events.CouponCreated) -> CouponTerms:
    return CouponTerms(
        code=p.code, kind=_KIND_BACK[p.kind],
        amount_off=money_from_proto(p.amount_off) if p.HasField("amount_off") else None,
        percent_off_bps=p.percent_off_bps,
        max_discount=money_from_proto(p.max_discount) if p.HasField("max_discount") else None,
        min_order=money_from_proto(p.min_order) if p.HasField("min_order") else None,
        sku_ids=frozenset(p.sku_ids),
        valid_from=p.valid_from.ToDatetime(tzinfo=UTC) if p.HasField("valid_from") else None,
        expires_at=p.expires_at.ToDatetime(tzinfo=UTC) if p.HasField("expires_at") else None,
        total_cap=p.total_cap, per_buyer_cap=p.per_buyer_cap,
    )


def coupon_new_events(code: str, version_before: int, new: Sequence[CouponEvent]) -> list[NewEvent]:
    """Envelopes for a coupon's new events, numbered on from `version_before` (0: not created yet): a
    second creation of one code conflicts in the store."""
    at = datetime.now(UTC)
    for ev in new:
        if isinstance(ev, CouponCreated):
            at = ev.created_at
    return [
        NewEvent(
            aggregate_type=COUPON, aggregate_id=code_key(code), aggregate_version=version_before + n,
            payload=event_to_proto(ev), correlation_id=code_key(code), occurred_at=at,
        )
        for n, ev in enumerate(new, start=1)
    ]


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else ""


def coupon_to_proto(coupon: Coupon, uses: int) -> pb.Coupon:
    t = coupon.terms
    return pb.Coupon(
        code=t.code, kind=t.kind.value, amount_off=_money(t.amount_off), percent_off_bps=t.percent_off_bps,
        max_discount=_money(t.max_discount), min_order=_money(t.min_order), sku_ids=sorted(t.sku_ids),
        valid_from=_iso(t.valid_from), expires_at=_iso(t.expires_at), total_cap=t.total_cap,
        per_buyer_cap=t.per_buyer_cap, disabled=coupon.disabled, uses=uses,
        created_at=coupon.created_at.isoformat(), created_by=coupon.created_by,
    )


def _time(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise ValueError(f"{field} needs a time zone")
    try:
        return at.astimezone(UTC)
    except OverflowError:  # year 1 with a zone east of UTC
        raise ValueError(f"{field} is out of range") from None


def terms_from_request(c: pb.Coupon) -> CouponTerms:
    """The terms a CreateCoupon request asks for; raises ValueError for a kind or time it cannot read."""
    try:
        kind = CouponKind(c.kind.upper())
    except ValueError:
        raise ValueError("kind is FIXED or PERCENT") from None
    return CouponTerms(
        code=c.code, kind=kind,
        amount_off=money_from_proto(c.amount_off) if c.HasField("amount_off") else None,
        percent_off_bps=c.percent_off_bps,
        max_discount=money_from_proto(c.max_discount) if c.HasField("max_discount") else None,
        min_order=money_from_proto(c.min_order) if c.HasField("min_order") else None,
        sku_ids=frozenset(c.sku_ids), valid_from=_time(c.valid_from, "valid_from"),
        expires_at=_time(c.expires_at, "expires_at"), total_cap=c.total_cap, per_buyer_cap=c.per_buyer_cap,
    )
