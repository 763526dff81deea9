"""The Delivery aggregate: an order's delivered keys, its delivery e-mail and its keys' redemptions.

Pure functions over immutable state. Each command function decides from the current state and returns the
events to record (at their versions), or none; `evolve` folds one recorded event into the state. The state
an adapter loads from the projections equals the fold of the events (the property tests check it).

The e-mail's life: queued (pending, due at once) -> claimed by a sender (sending, leased) -> sent, or
failed (pending again, due after a backoff), or given up (failed: the exception queue), or cancelled (the
buyer has no address or was erased). A claim whose
outcome never came (the sender crashed) is due again when its lease runs out, with the same attempt number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from quanyi_fulfillment.domain.delivery import (
    EMAIL,
    ON_DEMAND,
    Decision,
    Money,
    Reservation,
    channels,
    decide,
)
from quanyi_fulfillment.domain.errors import DeliveryNotFound, InvalidChannelRequest
from quanyi_fulfillment.domain.events import (
    CHANNEL_REQUEST,
    DELIVERY,
    KEPT_CHANNEL,
    REDEMPTION,
    REDEMPTION_ALERT,
    ChannelAttemptStarted,
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    EmailAttemptFailed,
    EmailAttemptStarted,
    EmailCancelled,
    EmailEvent,
    EmailGivenUp,
    EmailQueued,
    EmailSent,
    EntitlementEvent,
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
from quanyi_fulfillment.domain.retry import GiveUp, RetryPolicy

T = TypeVar("T")


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # the exception queue
    CANCELLED = "cancelled"  # nobody to write to


@dataclass(frozen=True)
class Email:
    """The delivery e-mail. `attempts` counts attempts spent; `next_attempt_at` is when it is due (while
    sending: when the claim's lease runs out); `lease` numbers the claims, from 1. It holds no address."""

    status: EmailStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str
    lease: int
    updated_at: datetime

    def is_due(self, now: datetime) -> bool:
        return self.status in (EmailStatus.PENDING, EmailStatus.SENDING) and self.next_attempt_at <= now


@dataclass(frozen=True)
class EmailChange:
    """What one e-mail event sets; None leaves a field as it was. Every e-mail event sets the fields it
    names to absolute values, so changes of one e-mail fold by overlaying them in order (the projection
    folds a batch's changes per order this way before it writes)."""

    status: EmailStatus | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    lease: int | None = None
    updated_at: datetime | None = None

    def then(self, later: EmailChange) -> EmailChange:
        """This change followed by `later`."""
        return EmailChange(
            status=_or(later.status, self.status),
            attempts=_or(later.attempts, self.attempts),
            next_attempt_at=_or(later.next_attempt_at, self.next_attempt_at),
            last_error=_or(later.last_error, self.last_error),
            lease=_or(later.lease, self.lease),
            updated_at=_or(later.updated_at, self.updated_at),
        )


def _or(value: T | None, otherwise: T) -> T:
    return value if value is not None else otherwise


def email_change(event: EmailEvent) -> EmailChange:
    """The fields of the e-mail that `event` sets."""
    match event:
        case EmailQueued():
            return EmailChange(EmailStatus.PENDING, 0, event.at, "", 0, event.at)
        case EmailAttemptStarted():
            return EmailChange(
                EmailStatus.SENDING, event.attempt - 1, event.lease_expires_at, None, event.lease, event.at
            )
        case EmailSent():
            return EmailChange(EmailStatus.SENT, event.attempt, event.at, "", event.lease, event.at)
        case EmailAttemptFailed():
            attempts = event.attempt if event.counted else event.attempt - 1
            return EmailChange(
                EmailStatus.PENDING, attempts, event.next_attempt_at, event.reason, event.lease, event.at
            )
        case EmailGivenUp():
            return EmailChange(
                EmailStatus.FAILED, event.attempt, event.at, event.reason, event.lease, event.at
            )
        case EmailCancelled():
            return EmailChange(
                EmailStatus.CANCELLED, event.attempt - 1, event.at, event.reason, event.lease, event.at
            )


def _changed(email: Email, change: EmailChange) -> Email:
    return Email(
        status=_or(change.status, email.status),
        attempts=_or(change.attempts, email.attempts),
        next_attempt_at=_or(change.next_attempt_at, email.next_attempt_at),
        last_error=_or(change.last_error, email.last_error),
        lease=_or(change.lease, email.lease),
        updated_at=_or(change.updated_at, email.updated_at),
    )


@dataclass(frozen=True)
class DeliveredKey:
    """A key in the buyer's user centre (its id, never the key), and its redemption once reported."""

    key_id: str
    sku_id: str
    line_no: int
    unit_no: int
    unit_cost: Money
    redeemed_at: datetime | None = None
    redeemed_by_partner: str | None = None


@dataclass(frozen=True)
class Delivery:
    """An order's delivery. `version` is the last version of its Delivery stream; `keys` are ordered by
    line, unit and id."""

    order_id: str
    buyer_id: str
    delivered_at: datetime
    version: int
    keys: tuple[DeliveredKey, ...]
    email: Email | None = None

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def key(self, key_id: str) -> DeliveredKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


def _sorted_keys(keys: Iterable[DeliveredKey]) -> tuple[DeliveredKey, ...]:
    return tuple(sorted(keys, key=lambda k: (k.line_no, k.unit_no, k.key_id)))


# -- evolve -------------------------------------------------------------------------------------------


def evolve(state: Delivery | None, recorded: Recorded) -> Delivery:
    """The state after `recorded`. Raises ValueError for an event that cannot follow `state`."""
    event: Event = recorded.event
    if isinstance(event, KeyDelivered):
        if state is not None:
            raise ValueError(f"order {event.order_id} is delivered twice")
        keys = [DeliveredKey(k.key_id, k.sku_id, k.line_no, k.unit_no, k.unit_cost) for k in event.keys]
        return Delivery(event.order_id, event.buyer_id, event.at, recorded.version, _sorted_keys(keys))
    if state is None:
        raise ValueError(f"{type(event).__name__} of order {event.order_id} before its KeyDelivered")
    match event:
        case Redeemed():
            keys = [
                replace(k, redeemed_at=event.redeemed_at, redeemed_by_partner=event.partner)
                if k.key_id == event.key_id else k
                for k in state.keys
            ]
            return replace(state, keys=tuple(keys))
        case (
            ChannelRequested() | ChannelAttemptStarted() | ChannelCancelled() | UndeliveredKeyRedeemed()
            | PointsCredited() | MembershipGranted() | PointsDebited() | MembershipShortened()
        ):
            return state  # their own streams
        case DeliveryFailed() | ChannelDelivered():
            # On the order's Delivery stream (the e-mail's), or a channel request's own stream.
            return replace(state, version=recorded.version) if recorded.stream == DELIVERY else state
        case EmailQueued():
            email = Email(EmailStatus.PENDING, 0, event.at, "", 0, event.at)
            return replace(state, version=recorded.version, email=email)
        case _:
            if state.email is None:
                raise ValueError(f"{type(event).__name__} of order {event.order_id} without a queued e-mail")
            return replace(state, version=recorded.version, email=_changed(state.email, email_change(event)))


def evolve_all(state: Delivery | None, records: Iterable[Recorded]) -> Delivery | None:
    for r in records:
        state = evolve(state, r)
    return state


def fold(records: Iterable[Recorded]) -> dict[str, Delivery]:
    """Every order's state from its events (in store order)."""
    states: dict[str, Delivery] = {}
    for r in records:
        if isinstance(r.event, UndeliveredKeyRedeemed | EntitlementEvent):
            continue  # an alert about a key of no delivery; a bundle's grants (their own streams)
        states[r.order_id] = evolve(states.get(r.order_id), r)
    return states


# -- commands -----------------------------------------------------------------------------------------


def _next(state: Delivery, events: list[Event]) -> list[Recorded]:
    """`events` on the order's Delivery stream, after its current version."""
    return [Recorded(DELIVERY, state.order_id, state.version + n, e) for n, e in enumerate(events, start=1)]


def deliver(current: Delivery | None, reservation: Reservation, now: datetime) -> list[Recorded]:
    """Deliver an order's reserved keys once: KeyDelivered (version 1) and, for a buyer with an id and
    keys to mail, EmailQueued (due now). Already delivered with these keys -> nothing. An order of a
    bundle's points and memberships only is delivered with no key and no e-mail (its entitlements are
    granted beside it: domain.entitlements).

    Raises InvalidReservation or ConflictingReservation (see `decide`).
    """
    decision = decide(reservation, current.key_ids if current is not None else ())
    if decision is Decision.ALREADY_DELIVERED or (current is not None and not reservation.keys):
        return []
    order_id = reservation.order_id
    delivered = KeyDelivered(
        order_id=order_id,
        buyer_id=reservation.buyer_id,
        keys=reservation.keys,
        channels=channels(),
        sales_channel=reservation.sales_channel,
        at=now,
        paid_at=reservation.paid_at,
        reserved_at=reservation.reserved_at,
    )
    records = [Recorded(DELIVERY, order_id, 1, delivered)]
    if reservation.buyer_id and reservation.keys:
        records.append(Recorded(DELIVERY, order_id, 2, EmailQueued(order_id, now)))
    return records


def start_attempt(state: Delivery, now: datetime, lease_s: float) -> list[Recorded]:
    """Claim a due e-mail for one attempt until now + lease_s; nothing when it is not due."""
    email = state.email
    if email is None or not email.is_due(now):
        return []
    started = EmailAttemptStarted(
        state.order_id, email.attempts + 1, email.lease + 1, now + timedelta(seconds=lease_s), now
    )
    return _next(state, [started])


@dataclass(frozen=True)
class Sent:
    """The mail server accepted the e-mail. `kept`: the channels the buyer keeps a target for, as the
    round's contacts said (channel names only), delivered on automatically after the first attempt."""

    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failed:
    """The attempt failed (the mail server, or the keys could not be revealed). `reason` holds no key;
    `kept` as for Sent."""

    reason: str
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Postponed:
    """The keys could not be fetched for a passing reason (inventory unavailable): try later, no attempt
    spent."""

    reason: str


@dataclass(frozen=True)
class Unreachable:
    """Nobody to write to: the buyer has no e-mail address, or was erased. `reason` holds no address."""

    reason: str


Outcome = Sent | Failed | Postponed | Unreachable


def record_outcome(
    state: Delivery, lease: int, outcome: Outcome, policy: RetryPolicy, now: datetime
) -> list[Recorded]:
    """The events that end claim `lease` with `outcome`; nothing when that claim is no longer the open one
    (another sender took the e-mail after the lease ran out, and its outcome counts).

    The first counted attempt (sent or failed: once per order) also schedules the order's delivery on each
    channel the buyer keeps a target for (`outcome.kept`): a ChannelRequested on the order's KeptChannel
    stream of that channel, due at once (kept_channels.schedule)."""
    email = state.email
    if email is None or email.status is not EmailStatus.SENDING or email.lease != lease:
        return []
    attempt = email.attempts + 1
    order_id = state.order_id
    kept: list[Recorded] = []
    if isinstance(outcome, Sent | Failed) and attempt == 1:
        kept = schedule_kept(state, outcome.kept, now)
    match outcome:
        case Sent():
            return _next(state, [
                EmailSent(order_id, attempt, lease, now), ChannelDelivered(order_id, EMAIL, attempt, now)
            ]) + kept
        case Unreachable():
            return _next(state, [EmailCancelled(order_id, attempt, lease, outcome.reason, now)])
        case Postponed():
            later = now + timedelta(seconds=policy.backoff_s(max(email.attempts, 1)))
            return _next(
                state, [EmailAttemptFailed(order_id, attempt, lease, outcome.reason, later, False, now)]
            )
        case Failed():
            step = policy.after_failure(attempt, now)
            if isinstance(step, GiveUp):
                return _next(state, [
                    EmailGivenUp(order_id, attempt, lease, outcome.reason, now),
                    DeliveryFailed(order_id, attempt, outcome.reason, True, now, EMAIL),
                ]) + kept
            return _next(state, [
                EmailAttemptFailed(order_id, attempt, lease, outcome.reason, step.at, True, now),
                DeliveryFailed(order_id, attempt, outcome.reason, False, now, EMAIL),
            ]) + kept


# Channels delivered on automatically when the buyer keeps a target for them (not the e-mail: that is
# the delivery e-mail itself).
KEPT = tuple(c for c in ON_DEMAND if c != EMAIL)


def schedule_kept(state: Delivery, channels: Iterable[str], now: datetime) -> list[Recorded]:
    """ChannelRequested (version 1 of the KeptChannel stream "<order_id>:<channel>") for each channel the
    buyer keeps a target for that fulfillment delivers on, asked for at the buyer's standing request
    ("buyer:<id>"). The stream id makes it once per order and channel."""
    wanted = sorted({c for c in channels if c in KEPT})
    return [
        Recorded(
            KEPT_CHANNEL, f"{state.order_id}:{c}", 1,
            ChannelRequested(state.order_id, c, f"buyer:{state.buyer_id}", now),
        )
        for c in wanted
    ]


def redeem(
    state: Delivery | None, key_id: str, partner: str, redeemed_at: datetime, now: datetime
) -> list[Recorded]:
    """Record a key's redemption once (Redeemed, version 1 of the key's Redemption stream); a key already
    redeemed -> nothing (the first report stands). Raises DeliveryNotFound for a key not delivered."""
    key = state.key(key_id) if state is not None else None
    if state is None or key is None:
        raise DeliveryNotFound(f"no delivered key {key_id}")
    if key.redeemed_at is not None:
        return []
    return [Recorded(REDEMPTION, key_id, 1, Redeemed(key_id, state.order_id, partner, redeemed_at, now))]


def request_channel(
    state: Delivery | None, request_id: str, channel: str, requested_by: str, now: datetime
) -> list[Recorded]:
    """A buyer's or an operator's request for the order's keys on `channel`: ChannelRequested, version 1 of
    the request's own stream `request_id`. Raises DeliveryNotFound for an order not delivered and
    InvalidChannelRequest for a channel that cannot be asked for or a request without its requester."""
    if channel not in ON_DEMAND:
        raise InvalidChannelRequest(f"channel must be one of {', '.join(ON_DEMAND)}")
    if not requested_by:
        raise InvalidChannelRequest("requested_by is required")
    if state is None:
        raise DeliveryNotFound("the order has no delivered keys")
    requested = ChannelRequested(state.order_id, channel, requested_by, now)
    return [Recorded(CHANNEL_REQUEST, request_id, 1, requested)]


def channel_outcome(
    requested: Recorded, attempts: int, failure: str | None, now: datetime
) -> list[Recorded]:
    """The outcome of the request `requested` (its ChannelRequested): ChannelDelivered, or DeliveryFailed
    (final: the channel's own retries are spent, so orders puts the order in the exception queue)."""
    event = requested.event
    if not isinstance(event, ChannelRequested):
        raise ValueError("an outcome follows a ChannelRequested")
    outcome: Event = (
        ChannelDelivered(event.order_id, event.channel, attempts, now)
        if failure is None
        else DeliveryFailed(event.order_id, attempts, failure, True, now, event.channel)
    )
    return [Recorded(CHANNEL_REQUEST, requested.stream_id, requested.version + 1, outcome)]


def alert_undelivered_redemption(
    key_id: str, partner: str, redeemed_at: datetime, now: datetime
) -> list[Recorded]:
    """A partner reported redeemed key `key_id`, which no delivery holds: UndeliveredKeyRedeemed, version 1
    of the key's RedemptionAlert stream (a second report of the key conflicts there: one alert per key)."""
    return [Recorded(REDEMPTION_ALERT, key_id, 1, UndeliveredKeyRedeemed(key_id, partner, redeemed_at, now))]
