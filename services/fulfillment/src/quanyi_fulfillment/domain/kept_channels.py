"""Delivery on the channels a buyer keeps a target for: one KeptChannel stream per order and channel.

Its life: requested (ChannelRequested, version 1, due at once: scheduled with the delivery e-mail's first
attempt, aggregate.schedule_kept) -> claimed by a sender (ChannelAttemptStarted, leased) -> delivered
(ChannelDelivered), given up after the channel's own retries (DeliveryFailed, final: orders queues it), or
cancelled (ChannelCancelled: the buyer keeps no target for it any more). A claim whose outcome never came
(the sender crashed) is due again when its lease runs out. The target is never part of it: the sender asks
the gateway for it when it delivers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from quanyi_fulfillment.domain.events import (
    KEPT_CHANNEL,
    ChannelAttemptStarted,
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Event,
    Recorded,
)


class KeptStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"


@dataclass(frozen=True)
class KeptDelivery:
    """An order's delivery on one kept channel. `due_at` is when it is due (while sending: when the claim
    lapses); `lease` numbers the claims, from 1; `version` is the stream's last."""

    order_id: str
    channel: str
    status: KeptStatus
    due_at: datetime
    lease: int
    version: int

    @property
    def stream_id(self) -> str:
        return f"{self.order_id}:{self.channel}"

    def is_due(self, now: datetime) -> bool:
        return self.status is not KeptStatus.DONE and self.due_at <= now


def evolve_kept(state: KeptDelivery | None, recorded: Recorded) -> KeptDelivery | None:
    """The state after `recorded` (an event of a KeptChannel stream; others leave it as it was)."""
    if recorded.stream != KEPT_CHANNEL:
        return state
    event: Event = recorded.event
    match event:
        case ChannelRequested():
            return KeptDelivery(
                event.order_id, event.channel, KeptStatus.PENDING, event.at, 0, recorded.version
            )
        case ChannelAttemptStarted() if state is not None:
            return replace(
                state, status=KeptStatus.SENDING, due_at=event.lease_expires_at, lease=event.lease,
                version=recorded.version,
            )
        case ChannelDelivered() | DeliveryFailed() | ChannelCancelled() if state is not None:
            return replace(state, status=KeptStatus.DONE, version=recorded.version)
    raise ValueError(f"{type(event).__name__} cannot follow {state!r} on a KeptChannel stream")


def start_kept(state: KeptDelivery, now: datetime, lease_s: float) -> list[Recorded]:
    """Claim a due delivery until now + lease_s: ChannelAttemptStarted; nothing when it is not due."""
    if not state.is_due(now):
        return []
    started = ChannelAttemptStarted(
        state.order_id, state.channel, state.lease + 1, now + timedelta(seconds=lease_s), now
    )
    return [Recorded(KEPT_CHANNEL, state.stream_id, state.version + 1, started)]


@dataclass(frozen=True)
class KeptDelivered:
    attempts: int


@dataclass(frozen=True)
class KeptFailed:
    """The channel's own retries are spent. `reason` names neither the target nor a key."""

    attempts: int
    reason: str


@dataclass(frozen=True)
class KeptCancelled:
    """No attempt is made: the buyer keeps no target for the channel now, or it is not configured."""

    reason: str


KeptOutcome = KeptDelivered | KeptFailed | KeptCancelled


def finish_kept(state: KeptDelivery, lease: int, outcome: KeptOutcome, now: datetime) -> list[Recorded]:
    """The event that ends claim `lease` with `outcome`; nothing when that claim is no longer the open one
    (its lease ran out and another sender took the delivery: that claim's outcome counts)."""
    if state.status is not KeptStatus.SENDING or state.lease != lease:
        return []
    event: Event
    match outcome:
        case KeptDelivered():
            event = ChannelDelivered(state.order_id, state.channel, outcome.attempts, now)
        case KeptFailed():
            event = DeliveryFailed(state.order_id, outcome.attempts, outcome.reason, True, now, state.channel)
        case KeptCancelled():
            event = ChannelCancelled(state.order_id, state.channel, outcome.reason, now)
    return [Recorded(KEPT_CHANNEL, state.stream_id, state.version + 1, event)]
