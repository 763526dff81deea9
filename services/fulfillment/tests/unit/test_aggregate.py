from datetime import UTC, datetime, timedelta

import pytest
from quanyi_fulfillment.domain.aggregate import (
    Delivery,
    EmailChange,
    EmailStatus,
    Failed,
    Postponed,
    Sent,
    Unreachable,
    deliver,
    email_change,
    evolve_all,
    record_outcome,
    redeem,
    start_attempt,
)
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.errors import ConflictingReservation, DeliveryNotFound
from quanyi_fulfillment.domain.events import (
    ChannelDelivered,
    DeliveryFailed,
    EmailAttemptFailed,
    EmailAttemptStarted,
    EmailCancelled,
    EmailGivenUp,
    EmailQueued,
    EmailSent,
    KeyDelivered,
    Redeemed,
)
from quanyi_fulfillment.domain.retry import RetryPolicy

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=2, base_s=1.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reservation(*key_ids: str, email: str = "b@example.com") -> Reservation:
    """A reservation for buyer b-1, or (`email` empty) for no buyer id: then no e-mail is queued."""
    keys = tuple(ReservedKey(k, "sku", 1, n, Money(500, "CNY")) for n, k in enumerate(key_ids, start=1))
    return Reservation("o-1", "b-1" if email else "", keys, "web")


def delivered(email: str = "b@example.com") -> Delivery:
    state = evolve_all(None, deliver(None, reservation("k1", "k2", email=email), T0))
    assert state is not None
    return state


def claimed(state: Delivery, seconds: float = 0, lease_s: float = 30) -> Delivery:
    after = evolve_all(state, start_attempt(state, at(seconds), lease_s))
    assert after is not None
    return after


def test_a_delivery_records_the_keys_at_version_one_and_queues_the_email_at_version_two() -> None:
    records = deliver(None, reservation("k1", "k2"), T0)
    assert [(type(r.event), r.version) for r in records] == [(KeyDelivered, 1), (EmailQueued, 2)]
    state = evolve_all(None, records)
    assert state is not None and state.email is not None
    assert (state.email.status, state.email.next_attempt_at, state.delivered_at) == (EmailStatus.PENDING, T0, T0)


def test_without_an_address_only_the_user_centre_is_used() -> None:
    [only] = deliver(None, reservation("k1", email=""), T0)
    assert isinstance(only.event, KeyDelivered) and only.event.channels == ("user_center",)


def test_an_order_delivered_again_with_the_same_keys_records_nothing_and_with_other_keys_is_refused() -> None:
    state = delivered()
    assert deliver(state, reservation("k2", "k1"), at(5)) == []
    with pytest.raises(ConflictingReservation):
        deliver(state, reservation("k1", "k9"), at(5))


def test_a_claim_takes_the_next_attempt_and_lease_and_holds_the_email_until_the_lease_runs_out() -> None:
    [started] = start_attempt(delivered(), at(1), 30)
    assert started.event == EmailAttemptStarted("o-1", 1, 1, at(31), at(1))
    assert started.version == 3
    state = claimed(delivered(), 1)
    assert start_attempt(state, at(30), 30) == []  # still leased
    [again] = start_attempt(state, at(31), 30)  # the lease ran out: due again, same attempt, new claim
    assert (again.event.attempt, again.event.lease) == (1, 2)  # type: ignore[union-attr]


def test_keydelivered_lists_only_the_user_centre_and_the_email_is_announced_once_the_server_took_it() -> None:
    state = delivered()
    [first, _] = deliver(None, reservation("k1", "k2"), T0)
    assert isinstance(first.event, KeyDelivered) and first.event.channels == ("user_center",)
    records = record_outcome(claimed(state), 1, Sent(), POLICY, at(1))
    assert [r.event for r in records] == [
        EmailSent("o-1", 1, 1, at(1)), ChannelDelivered("o-1", "email", 1, at(1))
    ]
    assert [r.version for r in records] == [4, 5]
    after = evolve_all(claimed(state), records)
    assert after is not None and after.version == 5
    failed = record_outcome(claimed(state), 1, Failed("smtp: refused"), POLICY, at(1))
    assert not any(isinstance(r.event, ChannelDelivered) for r in failed)


def test_an_email_not_due_yet_or_already_sent_is_not_claimed() -> None:
    state = delivered()
    assert start_attempt(state, at(-1), 30) == []
    sent = evolve_all(claimed(state), record_outcome(claimed(state), 1, Sent(), POLICY, at(1)))
    assert sent is not None and start_attempt(sent, at(1000), 30) == []
    assert start_attempt(delivered(email=""), at(1), 30) == []


def test_a_failed_attempt_is_due_again_after_the_backoff_and_announced_as_delivery_failed() -> None:
    state = claimed(delivered())
    records = record_outcome(state, 1, Failed("smtp: refused"), POLICY, at(1))
    assert [r.event for r in records] == [
        EmailAttemptFailed("o-1", 1, 1, "smtp: refused", at(3), True, at(1)),
        DeliveryFailed("o-1", 1, "smtp: refused", False, at(1), "email"),
    ]
    after = evolve_all(state, records)
    assert after is not None and after.email is not None
    assert (after.email.status, after.email.attempts, after.email.next_attempt_at) == (EmailStatus.PENDING, 1, at(3))


def test_a_buyer_nobody_can_write_to_cancels_the_email_outside_the_exception_queue_and_spends_no_attempt() -> None:
    state = claimed(delivered())
    records = record_outcome(state, 1, Unreachable("the buyer's personal data was erased"), POLICY, at(1))
    assert [type(r.event) for r in records] == [EmailCancelled]
    after = evolve_all(state, records)
    assert after is not None and after.email is not None
    assert (after.email.status, after.email.attempts, after.email.last_error) == (
        EmailStatus.CANCELLED, 0, "the buyer's personal data was erased"
    )
    assert start_attempt(after, at(10_000), 30) == []  # never due again
    assert after.version == 4  # KeyDelivered, EmailQueued, EmailAttemptStarted, EmailCancelled


def test_the_last_attempt_failing_puts_the_email_in_the_exception_queue() -> None:
    state = claimed(delivered())
    state = evolve_all(state, record_outcome(state, 1, Failed("smtp: refused"), POLICY, at(1)))  # type: ignore[assignment]
    state = claimed(state, 3)
    records = record_outcome(state, 2, Failed("smtp: refused"), POLICY, at(4))
    assert [type(r.event) for r in records] == [EmailGivenUp, DeliveryFailed]
    assert records[1].event.final  # type: ignore[union-attr]
    after = evolve_all(state, records)
    assert after is not None and after.email is not None
    assert (after.email.status, after.email.attempts) == (EmailStatus.FAILED, 2)
    assert start_attempt(after, at(10_000), 30) == []


def test_keys_not_fetched_for_a_passing_reason_spend_no_attempt() -> None:
    state = claimed(delivered())
    [postponed] = record_outcome(state, 1, Postponed("inventory unavailable"), POLICY, at(1))
    assert isinstance(postponed.event, EmailAttemptFailed) and not postponed.event.counted
    after = evolve_all(state, [postponed])
    assert after is not None and after.email is not None
    assert (after.email.attempts, after.email.last_error) == (0, "inventory unavailable")
    [next_claim] = start_attempt(after, postponed.event.next_attempt_at, 30)
    assert next_claim.event.attempt == 1  # type: ignore[union-attr]


def test_the_outcome_of_a_superseded_claim_is_dropped() -> None:
    first = claimed(delivered(), 0, lease_s=1)
    second = claimed(first, 2)
    assert record_outcome(second, 1, Sent(), POLICY, at(3)) == []
    assert [type(r.event) for r in record_outcome(second, 2, Sent(), POLICY, at(3))] == [EmailSent, ChannelDelivered]


def test_a_key_is_redeemed_once_and_an_unknown_key_is_not_found() -> None:
    state = delivered()
    [r] = redeem(state, "k2", "tmall", at(-5), at(1))
    assert (r.stream, r.stream_id, r.version) == ("Redemption", "k2", 1)
    assert r.event == Redeemed("k2", "o-1", "tmall", at(-5), at(1))
    after = evolve_all(state, [r])
    assert after is not None and after.version == state.version  # another stream
    assert redeem(after, "k2", "jd", at(9), at(9)) == []
    with pytest.raises(DeliveryNotFound):
        redeem(after, "k9", "jd", at(9), at(9))
    with pytest.raises(DeliveryNotFound):
        redeem(None, "k9", "jd", at(9), at(9))


def test_email_changes_fold_by_overlaying_the_later_fields() -> None:
    queued = email_change(EmailQueued("o-1", T0))
    started = email_change(EmailAttemptStarted("o-1", 1, 1, at(30), at(1)))
    both = queued.then(started)
    assert both == EmailChange(EmailStatus.SENDING, 0, at(30), "", 1, at(1))  # last_error kept from queued
    assert EmailChange().then(started).last_error is None
