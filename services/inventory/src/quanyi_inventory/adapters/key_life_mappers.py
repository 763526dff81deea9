"""The key-life events (delivered, redeemed, refunds' settlements, redemptions heard after a refund) <->
protobuf."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.inventory.v1 import events_pb2 as pb

from quanyi_inventory.domain.events import (
    HeldKey,
    KeysDelivered,
    KeysRedeemed,
    RefundedKeyRedeemed,
    RefundKeysRefused,
    RefundKeysSettled,
)

KeyLifeEvent = KeysDelivered | KeysRedeemed | RefundKeysSettled | RefundKeysRefused | RefundedKeyRedeemed
PROTOS = (
    pb.KeysDelivered, pb.KeysRedeemed, pb.RefundKeysSettled, pb.RefundKeysRefused, pb.RefundedKeyRedeemed
)


def _held(keys: tuple[HeldKey, ...]) -> list[pb.HeldKey]:
    return [
        pb.HeldKey(key_id=k.key_id, sku_id=k.sku_id, pool_id=k.pool_id, line_no=k.line_no, unit_no=k.unit_no)
        for k in keys
    ]


def _from_held(keys: object) -> tuple[HeldKey, ...]:
    return tuple(
        HeldKey(k.key_id, k.sku_id, k.pool_id, int(k.line_no), int(k.unit_no))
        for k in keys  # type: ignore[attr-defined]
    )


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at.astimezone(UTC))
    return stamp


def key_life_to_proto(event: KeyLifeEvent) -> Message:
    if isinstance(event, RefundedKeyRedeemed):
        k = event.key
        return pb.RefundedKeyRedeemed(
            order_id=event.order_id,
            key=pb.HeldKey(key_id=k.key_id, sku_id=k.sku_id, pool_id=k.pool_id, line_no=k.line_no,
                           unit_no=k.unit_no),
            refund_id=event.refund_id, taken=event.taken, partner=event.partner,
            redeemed_at=_timestamp(event.redeemed_at), redemption_event_id=event.redemption_event_id,
        )
    if isinstance(event, KeysDelivered):
        return pb.KeysDelivered(
            order_id=event.order_id, keys=_held(event.keys), delivery_event_id=event.delivery_event_id
        )
    if isinstance(event, KeysRedeemed):
        return pb.KeysRedeemed(
            order_id=event.order_id, keys=_held(event.keys), partner=event.partner,
            redeemed_at=_timestamp(event.redeemed_at),
        )
    if isinstance(event, RefundKeysSettled):
        return pb.RefundKeysSettled(
            order_id=event.order_id, refund_id=event.refund_id, released=_held(event.released),
            voided=_held(event.voided), voided_undelivered=_held(event.voided_undelivered),
            redeemed=_held(event.redeemed), actor=event.actor, override_redeemed=event.override_redeemed,
            note=event.note,
        )
    return pb.RefundKeysRefused(
        order_id=event.order_id, refund_id=event.refund_id, reason=event.reason, actor=event.actor
    )


def key_life_from_proto(m: Message) -> KeyLifeEvent:
    if isinstance(m, pb.KeysDelivered):
        return KeysDelivered(m.order_id, _from_held(m.keys), m.delivery_event_id)
    if isinstance(m, pb.KeysRedeemed):
        at: datetime | None = m.redeemed_at.ToDatetime(tzinfo=UTC) if m.HasField("redeemed_at") else None
        return KeysRedeemed(m.order_id, _from_held(m.keys), m.partner, at)
    if isinstance(m, pb.RefundKeysSettled):
        return RefundKeysSettled(
            m.order_id, m.refund_id, _from_held(m.released), _from_held(m.voided),
            _from_held(m.voided_undelivered), _from_held(m.redeemed), m.actor, m.override_redeemed, m.note,
        )
    if isinstance(m, pb.RefundKeysRefused):
        return RefundKeysRefused(m.order_id, m.refund_id, m.reason, m.actor)
    if isinstance(m, pb.RefundedKeyRedeemed):
        [key] = _from_held([m.key])
        at = m.redeemed_at.ToDatetime(tzinfo=UTC) if m.HasField("redeemed_at") else None
        return RefundedKeyRedeemed(
            m.order_id, key, m.refund_id, m.taken, m.partner, at, m.redemption_event_id
        )
    raise TypeError(f"not a key-life event: {type(m).__name__}")
