"""Fulfillment's events between their domain form and the protobuf payloads of the event store."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from quanyi.common.v1 import money_pb2
from quanyi.fulfillment.v1 import events_pb2 as pb
from quanyi_platform.envelope import NewEvent, datetime_of
from quanyi_platform.projection import StoredEvent

from quanyi_fulfillment.domain.delivery import EMAIL, Money, ReservedKey
from quanyi_fulfillment.domain.events import (
    ChannelAttemptStarted,
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    EmailAttemptFailed,
    EmailAttemptStarted,
    EmailCancelled,
    EmailGivenUp,
    EmailQueued,
    EmailSent,
    Event,
    KeyDelivered,
    MembershipGranted,
    MembershipShortened,
    PointsCredited,
    PointsDebited,
    Recorded,
    Redeemed,
    UndeliveredKeyRedeemed,
)
from quanyi_fulfillment.domain.redemption import rfc3339

KEY_DELIVERED = pb.KeyDelivered.DESCRIPTOR.full_name
DELIVERY_FAILED = pb.DeliveryFailed.DESCRIPTOR.full_name
REDEEMED = pb.Redeemed.DESCRIPTOR.full_name
EMAIL_QUEUED = pb.EmailQueued.DESCRIPTOR.full_name
EMAIL_ATTEMPT_STARTED = pb.EmailAttemptStarted.DESCRIPTOR.full_name
EMAIL_SENT = pb.EmailSent.DESCRIPTOR.full_name
EMAIL_ATTEMPT_FAILED = pb.EmailAttemptFailed.DESCRIPTOR.full_name
EMAIL_GIVEN_UP = pb.EmailGivenUp.DESCRIPTOR.full_name
EMAIL_CANCELLED = pb.EmailCancelled.DESCRIPTOR.full_name
CHANNEL_DELIVERED = pb.ChannelDelivered.DESCRIPTOR.full_name
CHANNEL_REQUESTED = pb.ChannelRequested.DESCRIPTOR.full_name
UNDELIVERED_KEY_REDEEMED = pb.UndeliveredKeyRedeemed.DESCRIPTOR.full_name
CHANNEL_ATTEMPT_STARTED = pb.ChannelAttemptStarted.DESCRIPTOR.full_name
CHANNEL_CANCELLED = pb.ChannelCancelled.DESCRIPTOR.full_name
POINTS_CREDITED = pb.PointsCredited.DESCRIPTOR.full_name
MEMBERSHIP_GRANTED = pb.MembershipGranted.DESCRIPTOR.full_name
POINTS_DEBITED = pb.PointsDebited.DESCRIPTOR.full_name
MEMBERSHIP_SHORTENED = pb.MembershipShortened.DESCRIPTOR.full_name

EVENT_TYPES = frozenset({
    KEY_DELIVERED, DELIVERY_FAILED, REDEEMED, EMAIL_QUEUED, EMAIL_ATTEMPT_STARTED, EMAIL_SENT,
    EMAIL_ATTEMPT_FAILED, EMAIL_GIVEN_UP, EMAIL_CANCELLED, CHANNEL_DELIVERED,
    CHANNEL_REQUESTED, UNDELIVERED_KEY_REDEEMED, CHANNEL_ATTEMPT_STARTED, CHANNEL_CANCELLED,
    POINTS_CREDITED, MEMBERSHIP_GRANTED, POINTS_DEBITED, MEMBERSHIP_SHORTENED,
})


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _money(m: Money) -> money_pb2.Money:
    return money_pb2.Money(minor_units=m.minor_units, currency=m.currency)


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def _from_ts(ts: Timestamp) -> datetime:
    at: datetime = datetime_of(ts)
    return at


def payload(event: Event) -> Message:
    """The protobuf payload of a domain event (its `at` travels as the envelope's occurred_at)."""
    match event:
        case PointsCredited():
            return pb.PointsCredited(
                order_id=event.order_id, line_no=event.line_no, unit_no=event.unit_no,
                buyer_id=event.buyer_id,
                points=event.points, value=_money(event.value), sales_channel=event.sales_channel,
                bundle_sku_id=event.bundle_sku_id,
            )
        case MembershipGranted():
            return pb.MembershipGranted(
                order_id=event.order_id, line_no=event.line_no, unit_no=event.unit_no,
                buyer_id=event.buyer_id,
                plan=event.plan, days=event.days, valid_from=_ts(event.valid_from),
                valid_until=_ts(event.valid_until), cost=_money(event.cost),
                sales_channel=event.sales_channel,
                bundle_sku_id=event.bundle_sku_id,
            )
        case PointsDebited():
            return pb.PointsDebited(
                order_id=event.order_id, line_no=event.line_no, unit_no=event.unit_no,
                buyer_id=event.buyer_id,
                points=event.points, value=_money(event.value), sales_channel=event.sales_channel,
                bundle_sku_id=event.bundle_sku_id,
            )
        case MembershipShortened():
            return pb.MembershipShortened(
                order_id=event.order_id, line_no=event.line_no, unit_no=event.unit_no,
                buyer_id=event.buyer_id, plan=event.plan, days=event.days,
                valid_until=_ts(event.valid_until), cost=_money(event.cost),
                sales_channel=event.sales_channel, bundle_sku_id=event.bundle_sku_id,
            )
        case KeyDelivered():
            return pb.KeyDelivered(
                order_id=event.order_id,
                buyer_id=event.buyer_id,
                keys=[
                    pb.DeliveredKey(
                        key_id=k.key_id, sku_id=k.sku_id, line_no=k.line_no, unit_no=k.unit_no,
                        unit_cost=money_pb2.Money(
                            minor_units=k.unit_cost.minor_units, currency=k.unit_cost.currency
                        ),
                    )
                    for k in event.keys
                ],
                channels=list(event.channels),
                sales_channel=event.sales_channel,
                paid_at=_ts(event.paid_at) if event.paid_at else None,
                reserved_at=_ts(event.reserved_at) if event.reserved_at else None,
            )
        case EmailQueued():
            return pb.EmailQueued(order_id=event.order_id)
        case EmailAttemptStarted():
            return pb.EmailAttemptStarted(
                order_id=event.order_id, attempt=event.attempt, lease=event.lease,
                lease_expires_at=rfc3339(event.lease_expires_at),
            )
        case EmailSent():
            return pb.EmailSent(order_id=event.order_id, attempt=event.attempt, lease=event.lease)
        case EmailAttemptFailed():
            return pb.EmailAttemptFailed(
                order_id=event.order_id, attempt=event.attempt, lease=event.lease, reason=event.reason,
                next_attempt_at=rfc3339(event.next_attempt_at), counted=event.counted,
            )
        case EmailGivenUp():
            return pb.EmailGivenUp(
                order_id=event.order_id, attempt=event.attempt, lease=event.lease, reason=event.reason
            )
        case EmailCancelled():
            return pb.EmailCancelled(
                order_id=event.order_id, attempt=event.attempt, lease=event.lease, reason=event.reason
            )
        case DeliveryFailed():
            return pb.DeliveryFailed(
                order_id=event.order_id, attempt=event.attempt, reason=event.reason, final=event.final,
                channel=event.channel,
            )
        case ChannelDelivered():
            return pb.ChannelDelivered(order_id=event.order_id, channel=event.channel, attempt=event.attempt)
        case ChannelRequested():
            return pb.ChannelRequested(
                order_id=event.order_id, channel=event.channel, requested_by=event.requested_by
            )
        case ChannelAttemptStarted():
            return pb.ChannelAttemptStarted(
                order_id=event.order_id, channel=event.channel, lease=event.lease,
                lease_expires_at=rfc3339(event.lease_expires_at),
            )
        case ChannelCancelled():
            return pb.ChannelCancelled(order_id=event.order_id, channel=event.channel, reason=event.reason)
        case UndeliveredKeyRedeemed():
            return pb.UndeliveredKeyRedeemed(
                key_id=event.key_id, partner=event.partner, redeemed_at=rfc3339(event.redeemed_at)
            )
        case Redeemed():
            return pb.Redeemed(
                key_id=event.key_id, order_id=event.order_id, partner=event.partner,
                redeemed_at=rfc3339(event.redeemed_at),
            )


def event_of(message: Message, at: datetime) -> Event | None:
    """The domain event of a payload that happened at `at`; None for a type fulfillment does not record."""
    match message:
        case pb.PointsCredited():
            return PointsCredited(
                message.order_id, message.line_no, message.unit_no, message.buyer_id, int(message.points),
                Money(int(message.value.minor_units), message.value.currency), message.sales_channel,
                message.bundle_sku_id, at,
            )
        case pb.MembershipGranted():
            return MembershipGranted(
                message.order_id, message.line_no, message.unit_no, message.buyer_id, message.plan,
                message.days, _from_ts(message.valid_from), _from_ts(message.valid_until),
                Money(int(message.cost.minor_units), message.cost.currency), message.sales_channel,
                message.bundle_sku_id, at,
            )
        case pb.PointsDebited():
            return PointsDebited(
                message.order_id, message.line_no, message.unit_no, message.buyer_id, int(message.points),
                Money(int(message.value.minor_units), message.value.currency), message.sales_channel,
                message.bundle_sku_id, at,
            )
        case pb.MembershipShortened():
            return MembershipShortened(
                message.order_id, message.line_no, message.unit_no, message.buyer_id, message.plan,
                message.days, _from_ts(message.valid_until),
                Money(int(message.cost.minor_units), message.cost.currency), message.sales_channel,
                message.bundle_sku_id, at,
            )
        case pb.KeyDelivered():
            keys = tuple(
                ReservedKey(
                    k.key_id, k.sku_id, k.line_no, k.unit_no,
                    Money(k.unit_cost.minor_units, k.unit_cost.currency),
                )
                for k in message.keys
            )
            return KeyDelivered(
                message.order_id, message.buyer_id, keys, tuple(message.channels), message.sales_channel, at,
                _from_ts(message.paid_at) if message.HasField("paid_at") else None,
                _from_ts(message.reserved_at) if message.HasField("reserved_at") else None,
            )
        case pb.EmailQueued():
            # An address in an EmailQueued of an older release is never read.
            return EmailQueued(message.order_id, at)
        case pb.EmailAttemptStarted():
            return EmailAttemptStarted(
                message.order_id, message.attempt, message.lease, _time(message.lease_expires_at), at
            )
        case pb.EmailSent():
            return EmailSent(message.order_id, message.attempt, message.lease, at)
        case pb.EmailAttemptFailed():
            return EmailAttemptFailed(
                message.order_id, message.attempt, message.lease, message.reason,
                _time(message.next_attempt_at), message.counted, at,
            )
        case pb.EmailGivenUp():
            return EmailGivenUp(message.order_id, message.attempt, message.lease, message.reason, at)
        case pb.EmailCancelled():
            return EmailCancelled(message.order_id, message.attempt, message.lease, message.reason, at)
        case pb.DeliveryFailed():
            return DeliveryFailed(
                message.order_id, message.attempt, message.reason, message.final, at, message.channel or EMAIL
            )
        case pb.ChannelDelivered():
            return ChannelDelivered(message.order_id, message.channel, message.attempt, at)
        case pb.ChannelRequested():
            return ChannelRequested(message.order_id, message.channel, message.requested_by, at)
        case pb.ChannelAttemptStarted():
            return ChannelAttemptStarted(
                message.order_id, message.channel, message.lease, _time(message.lease_expires_at), at
            )
        case pb.ChannelCancelled():
            return ChannelCancelled(message.order_id, message.channel, message.reason, at)
        case pb.UndeliveredKeyRedeemed():
            return UndeliveredKeyRedeemed(message.key_id, message.partner, _time(message.redeemed_at), at)
        case pb.Redeemed():
            return Redeemed(message.key_id, message.order_id, message.partner, _time(message.redeemed_at), at)
    return None


def new_event(recorded: Recorded) -> NewEvent:
    """The event store's form of `recorded`: correlated with its order, occurred at its `at`."""
    return NewEvent(
        aggregate_type=recorded.stream,
        aggregate_id=recorded.stream_id,
        aggregate_version=recorded.version,
        payload=payload(recorded.event),
        correlation_id=recorded.order_id or recorded.stream_id,  # an alert of no order: its key
        causation_id=recorded.causation_id,
        occurred_at=recorded.event.at,
    )


def recorded_of(stored: StoredEvent) -> Recorded | None:
    """The domain form of a stored event; None for a type fulfillment does not record."""
    event = event_of(stored.payload, stored.occurred_at.astimezone(UTC))
    if event is None:
        return None
    return Recorded(
        str(stored.envelope.aggregate_type), stored.aggregate_id, stored.aggregate_version, event,
        stored.causation_id,
    )
