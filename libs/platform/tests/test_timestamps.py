"""set_timestamp, which seals every event's time, writes what Timestamp.FromDatetime writes; datetime_of,
which every service reads an event's time with, reads what Timestamp.ToDatetime(tzinfo=UTC) reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st
from quanyi.orders.v1 import events_pb2 as orders
from quanyi_platform.envelope import NewEvent, datetime_of, seal, set_timestamp

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))


@given(times, st.one_of(st.none(), st.just(UTC), offsets))
def test_set_timestamp_writes_what_from_datetime_writes(t: datetime, tz: timezone | None) -> None:
    at = t.replace(tzinfo=tz)
    ours, theirs = Timestamp(), Timestamp()
    set_timestamp(ours, at)
    theirs.FromDatetime(at)
    assert (ours.seconds, ours.nanos) == (theirs.seconds, theirs.nanos)


def test_a_sealed_event_carries_its_time_even_at_the_epoch() -> None:
    for at in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 12, 2, 8, 0, 0, 123456, tzinfo=UTC)):
        env = seal(NewEvent("Order", "o-1", 1, orders.OrderPaid(order_id="o-1"), occurred_at=at), "orders")
        assert env.occurred_at.ToDatetime(tzinfo=UTC) == at


@given(st.integers(min_value=-62_135_596_800, max_value=253_402_300_799), st.integers(0, 999_999_999))
def test_datetime_of_reads_what_to_datetime_reads(seconds: int, nanos: int) -> None:
    ts = Timestamp(seconds=seconds, nanos=nanos)
    assert datetime_of(ts) == ts.ToDatetime(tzinfo=UTC)
    assert datetime_of(ts).tzinfo is UTC
