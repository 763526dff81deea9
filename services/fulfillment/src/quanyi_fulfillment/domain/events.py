"""What happened to a delivery, as plain values: fulfillment's record, in domain terms.

Every change of fulfillment's state is one of these events. Each carries `at` (when it happened, UTC), which
is its envelope's occurred_at: the projections take times from it, never from a clock, so replaying the
events gives the same rows.

Streams: an order's Delivery stream (KeyDelivered is version 1; every e-mail fact, ChannelDelivered and
DeliveryFailed follow) and one Redemption stream per key (Redeemed is its version 1, so a key is redeemed
once). An on-demand channel request (a resend on another channel) is a stream of its own: ChannelRequested
(version 1), then ChannelDelivered or DeliveryFailed (final) at version 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quanyi_fulfillment.domain.delivery import EMAIL, Money, ReservedKey

DELIVERY = "Delivery"
REDEMPTION = "Redemption"
# One stream per key a partner reported redeemed that was never delivered: its alert, once.
REDEMPTION_ALERT = "RedemptionAlert"
# One stream per on-demand channel request: ChannelRequested (version 1), then its outcome (version 2).
CHANNEL_REQUEST = "ChannelRequest"
# One stream per order and channel the buyer keeps a target for, delivered automatically (id
# "<order_id>:<channel>"): ChannelRequested (version 1, due at once), ChannelAttemptStarted per claim,
# then ChannelDelivered, DeliveryFailed (final) or ChannelCancelled.
KEPT_CHANNEL = "KeptChannel"
# One stream per bundle points component delivered ("<order_id>:<line_no>:<unit_no>"): PointsCredited once.
ENTITLEMENT = "Entitlement"
# One stream per buyer and membership plan ("<buyer_id>:<plan>"): each MembershipGranted a version.
MEMBERSHIP_STREAM = "Membership"


@dataclass(frozen=True)
class KeyDelivered:
    """The order's keys are in the buyer's user centre. `channels` names the channels that have delivered
    them: the user centre (a queued channel is announced by ChannelDelivered once it succeeded)."""

    order_id: str
    buyer_id: str
    keys: tuple[ReservedKey, ...]
    channels: tuple[str, ...]
    sales_channel: str
    at: datetime
    # When the order was paid and its keys reserved (None in records that do not say): delivery latency.
    paid_at: datetime | None = None
    reserved_at: datetime | None = None


@dataclass(frozen=True)
class EmailQueued:
    """The delivery e-mail to the order's buyer is due at `at` (the address is looked up when it is sent)."""

    order_id: str
    at: datetime


@dataclass(frozen=True)
class EmailAttemptStarted:
    """A sender claimed the e-mail (claim number `lease`) for attempt `attempt`, until `lease_expires_at`."""

    order_id: str
    attempt: int
    lease: int
    lease_expires_at: datetime
    at: datetime


@dataclass(frozen=True)
class EmailSent:
    """The mail server accepted the e-mail of claim `lease`."""

    order_id: str
    attempt: int
    lease: int
    at: datetime


@dataclass(frozen=True)
class EmailAttemptFailed:
    """The attempt of claim `lease` failed; the e-mail is due again at `next_attempt_at`.

    `counted` is False when the keys could not be fetched for a passing reason: that spends no attempt.
    """

    order_id: str
    attempt: int
    lease: int
    reason: str
    next_attempt_at: datetime
    counted: bool
    at: datetime


@dataclass(frozen=True)
class EmailGivenUp:
    """The last allowed attempt failed: the e-mail is in the exception queue."""

    order_id: str
    attempt: int
    lease: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class EmailCancelled:
    """Claim `lease` found nobody to write to (the buyer has no address, or was erased): the e-mail ends
    here, outside the exception queue; the keys stay in the user centre."""

    order_id: str
    attempt: int
    lease: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class DeliveryFailed:
    """The public notice of a failed attempt of `channel` (recorded with EmailAttemptFailed or
    EmailGivenUp); `final` when no more attempts will be made (orders queues the order)."""

    order_id: str
    attempt: int
    reason: str
    final: bool
    at: datetime
    channel: str = EMAIL


@dataclass(frozen=True)
class ChannelDelivered:
    """The public notice that `channel` actually delivered the order's keys (the mail server accepted the
    e-mail: recorded with EmailSent)."""

    order_id: str
    channel: str
    attempt: int
    at: datetime


@dataclass(frozen=True)
class ChannelRequested:
    """A buyer or an operator asked for the keys on `channel` (a resend, or a re-drive). It never holds the
    target (an address, phone number or partner account)."""

    order_id: str
    channel: str
    requested_by: str
    at: datetime


@dataclass(frozen=True)
class ChannelAttemptStarted:
    """A sender claimed the order's delivery on a kept `channel` (claim number `lease`) until
    `lease_expires_at`."""

    order_id: str
    channel: str
    lease: int
    lease_expires_at: datetime
    at: datetime


@dataclass(frozen=True)
class ChannelCancelled:
    """The delivery on a kept `channel` ends without an attempt, outside the exception queue: the buyer no
    longer keeps a target for it, or the channel is not configured. `reason` names no target."""

    order_id: str
    channel: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class UndeliveredKeyRedeemed:
    """An alert: a partner reported redeemed (at `redeemed_at`) a key fulfillment never delivered. It
    belongs to no order (`order_id` is empty)."""

    key_id: str
    partner: str
    redeemed_at: datetime
    at: datetime
    order_id: str = ""


@dataclass(frozen=True)
class Redeemed:
    """A partner reported the key used at `redeemed_at` (reported at `at`)."""

    key_id: str
    order_id: str
    partner: str
    redeemed_at: datetime
    at: datetime


@dataclass(frozen=True)
class PointsCredited:
    """A bundle's points of one unit of an order line credited to the buyer (stream ENTITLEMENT
    "<order>:<line>:<unit>", version 1), worth `value` (the operator's accounting value)."""

    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    points: int
    value: Money
    sales_channel: str
    bundle_sku_id: str
    at: datetime


@dataclass(frozen=True)
class MembershipGranted:
    """A bundle's membership of one unit of an order line granted to the buyer from `valid_from` to
    `valid_until` (stream MEMBERSHIP "<buyer>:<plan>": grants of one plan are versions of it, each starting
    when the one before ends). `cost` is what it costs the operator (0: nothing)."""

    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    plan: str
    days: int
    valid_from: datetime
    valid_until: datetime
    cost: Money
    sales_channel: str
    bundle_sku_id: str
    at: datetime


EmailEvent = (
    EmailQueued | EmailAttemptStarted | EmailSent | EmailAttemptFailed | EmailGivenUp | EmailCancelled
)
@dataclass(frozen=True)
class PointsDebited:
    """A refunded unit's points taken back (stream ENTITLEMENT "<order>:<line>:<unit>", version 2: once).
    The balance may go negative if the buyer spent them."""

    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    points: int
    value: Money
    sales_channel: str
    bundle_sku_id: str
    at: datetime


@dataclass(frozen=True)
class MembershipShortened:
    """A refunded unit's membership grant taken back: `days` off the end of the buyer's stacked membership
    of the plan, which now ends at `valid_until` (a version of stream MEMBERSHIP "<buyer>:<plan>"). `cost`
    is the grant's cost, reversed in full."""

    order_id: str
    line_no: int
    unit_no: int
    buyer_id: str
    plan: str
    days: int
    valid_until: datetime
    cost: Money
    sales_channel: str
    bundle_sku_id: str
    at: datetime


EntitlementEvent = PointsCredited | MembershipGranted | PointsDebited | MembershipShortened
Event = (
    KeyDelivered | EmailEvent | DeliveryFailed | ChannelDelivered | ChannelRequested | Redeemed
    | UndeliveredKeyRedeemed | ChannelAttemptStarted | ChannelCancelled | EntitlementEvent
)


@dataclass(frozen=True)
class Recorded:
    """An event at its place in its stream: (stream, stream_id, version) is unique in the store.

    `causation_id` is the id of the event that caused it (a KeyReserved), or empty.
    """

    stream: str
    stream_id: str
    version: int
    event: Event
    causation_id: str = ""

    @property
    def order_id(self) -> str:
        return self.event.order_id
