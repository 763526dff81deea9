"""Proto <-> domain."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.fulfillment.v1 import fulfillment_service_pb2 as pb
from quanyi.inventory.v1 import events_pb2 as inventory_events
from quanyi_platform.envelope import datetime_of

from quanyi_fulfillment.domain.aggregate import DeliveredKey, Delivery
from quanyi_fulfillment.domain.delivery import (
    MEMBERSHIP,
    POINTS,
    Money,
    Reservation,
    ReservedEntitlement,
    ReservedKey,
)
from quanyi_fulfillment.domain.redemption import rfc3339


def reservation(msg: inventory_events.KeyReserved, reserved_at: Timestamp | None = None) -> Reservation:
    """The reservation KeyReserved says; `reserved_at` is its envelope's time."""
    return Reservation(
        paid_at=datetime_of(msg.paid_at) if msg.HasField("paid_at") else None,
        reserved_at=datetime_of(reserved_at) if reserved_at is not None else None,
        order_id=msg.order_id,
        buyer_id=msg.buyer_id,
        keys=tuple(
            ReservedKey(
                key_id=k.key_id,
                sku_id=k.sku_id,
                line_no=k.line_no,
                unit_no=k.unit_no,
                unit_cost=Money(k.unit_cost.minor_units, k.unit_cost.currency),
            )
            for k in msg.keys
        ),
        sales_channel=msg.channel,
        entitlements=tuple(
            ReservedEntitlement(
                e.line_no, e.unit_no, e.bundle_sku_id, POINTS, int(e.points.points), "", 0,
                Money(int(e.points.value.minor_units), e.points.value.currency),
            )
            if e.HasField("points")
            else ReservedEntitlement(
                e.line_no, e.unit_no, e.bundle_sku_id, MEMBERSHIP, 0, e.membership.plan, e.membership.days,
                Money(int(e.membership.cost.minor_units), e.membership.cost.currency),
            )
            for e in msg.entitlements
        ),
    )


def delivery(d: Delivery, key: DeliveredKey) -> pb.Delivery:
    return pb.Delivery(
        order_id=d.order_id,
        key_id=key.key_id,
        sku_id=key.sku_id,
        buyer_id=d.buyer_id,
        delivered_at=rfc3339(d.delivered_at),
        redeemed_at=rfc3339(key.redeemed_at) if key.redeemed_at is not None else "",
    )
