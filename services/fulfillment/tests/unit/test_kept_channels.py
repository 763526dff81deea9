"""The kept channels: scheduled once per order by the delivery e-mail's first counted attempt, then claimed,
ended once, and a superseded claim's outcome dropped."""

from datetime import UTC, datetime, timedelta

import pytest
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    Failed,
    Postponed,
    Sent,
    deliver,
    evolve_all,
    record_outcome,
    start_attempt,
)
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.events import (
    KEPT_CHANNEL,
    ChannelAttemptStarted,
    ChannelCancelled,
    ChannelDelivered,
    ChannelRequested,
    DeliveryFailed,
    Recorded,
)
from quanyi_fulfillment.domain.kept_channels import (
    KeptCancelled,
    KeptDelivered,
    KeptDelivery,
    KeptFailed,
    KeptStatus,
    evolve_kept,
    finish_kept,
    start_kept,
)
from quanyi_fulfillment.domain.retry import RetryPolicy

T0 = datetime(2026, 12, 1, 2, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_s=1.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _delivered_and_claimed() -> Delivery:
    keys = (ReservedKey("k1", "sku", 1, 1, Money(500, "CNY")),)
    state = evolve_all(None, deliver(None, Reservation("o-1", "b-1", keys, "web"), T0))
    assert state is not None
    claimed = evolve_all(state, start_attempt(state, T0, 30))
    assert claimed is not None and claimed.email is not None
    return claimed


def _requested(records: list[Recorded]) -> list[tuple[str, str, str]]:
    return [
        (r.stream_id, e.channel, e.requested_by)
        for r in records
        if r.stream == KEPT_CHANNEL and isinstance(e := r.event, ChannelRequested)
    ]


@pytest.mark.parametrize("outcome", [Sent(("sms", "app", "email", "fax", "sms")), Failed("down", ("sms", "app"))])
def test_the_first_counted_attempt_schedules_each_kept_channel_once(outcome: Sent | Failed) -> None:
    state = _delivered_and_claimed()
    assert state.email is not None
    records = record_outcome(state, state.email.lease, outcome, POLICY, at(1))
    assert _requested(records) == [("o-1:app", "app", "buyer:b-1"), ("o-1:sms", "sms", "buyer:b-1")]
    assert all(r.version == 1 for r in records if r.stream == KEPT_CHANNEL)


def test_later_attempts_and_postponed_ones_schedule_nothing() -> None:
    state: Delivery | None = _delivered_and_claimed()
    assert state is not None and state.email is not None
    postponed = record_outcome(state, state.email.lease, Postponed("gateway"), POLICY, at(1))
    assert _requested(postponed) == []
    state = evolve_all(state, postponed)
    assert state is not None
    state = evolve_all(state, start_attempt(state, at(10), 30))  # the same first attempt, claimed again
    assert state is not None and state.email is not None
    failed = record_outcome(state, state.email.lease, Failed("down", ("sms",)), POLICY, at(11))
    assert len(_requested(failed)) == 1  # still the first counted attempt
    state = evolve_all(state, failed)
    assert state is not None
    state = evolve_all(state, start_attempt(state, at(100), 30))
    assert state is not None and state.email is not None
    sent = record_outcome(state, state.email.lease, Sent(("sms",)), POLICY, at(101))
    assert _requested(sent) == []  # the second attempt: scheduled once already


def test_a_kept_delivery_is_claimed_ended_once_and_a_superseded_claim_is_dropped() -> None:
    requested = Recorded(KEPT_CHANNEL, "o-1:sms", 1, ChannelRequested("o-1", "sms", "buyer:b-1", T0))
    state = evolve_kept(None, requested)
    assert state == KeptDelivery("o-1", "sms", KeptStatus.PENDING, T0, 0, 1)
    assert start_kept(state, at(-1), 30) == []  # not due yet

    [first] = start_kept(state, at(1), 30)
    assert isinstance(first.event, ChannelAttemptStarted) and first.version == 2
    state = evolve_kept(state, first)
    assert state is not None and (state.status, state.lease, state.due_at) == (KeptStatus.SENDING, 1, at(31))
    assert start_kept(state, at(2), 30) == []  # held by the claim
    [second] = start_kept(state, at(31), 30)  # its lease ran out
    state = evolve_kept(state, second)
    assert state is not None and state.lease == 2

    assert finish_kept(state, 1, KeptDelivered(1), at(40)) == []  # the first claim's outcome is dropped
    [done] = finish_kept(state, 2, KeptDelivered(2), at(40))
    assert done.event == ChannelDelivered("o-1", "sms", 2, at(40)) and done.version == 4
    state = evolve_kept(state, done)
    assert state is not None and state.status is KeptStatus.DONE and not state.is_due(at(1000))
    assert finish_kept(state, 2, KeptDelivered(2), at(41)) == []


def test_a_kept_delivery_ends_failed_for_the_exception_queue_or_cancelled_outside_it() -> None:
    state = KeptDelivery("o-1", "app", KeptStatus.SENDING, at(30), 1, 2)
    [failed] = finish_kept(state, 1, KeptFailed(3, "push service refused: HTTP 503"), at(5))
    assert failed.event == DeliveryFailed("o-1", 3, "push service refused: HTTP 503", True, at(5), "app")
    [cancelled] = finish_kept(state, 1, KeptCancelled("the buyer keeps no app target"), at(5))
    assert cancelled.event == ChannelCancelled("o-1", "app", "the buyer keeps no app target", at(5))
    with pytest.raises(ValueError):
        evolve_kept(None, failed)
