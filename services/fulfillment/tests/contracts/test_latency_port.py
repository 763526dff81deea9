"""The LatencyRepository against Postgres (projection `delivery_latency`) and the in-memory fake: the same
percentiles per hour and day, equal to domain.latency.stats of the deliveries, whatever the batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from quanyi_fulfillment.application.ports import FulfillmentUnitOfWork
from quanyi_fulfillment.application.queries import delivery_latency
from quanyi_fulfillment.domain import latency
from quanyi_fulfillment.domain.aggregate import deliver
from quanyi_fulfillment.domain.delivery import Money, Reservation, ReservedKey
from quanyi_fulfillment.domain.events import KeyDelivered, Recorded
from quanyi_fulfillment.domain.latency import DAY, HOUR, InvalidLatencyQuery, LatencyStats

from services.fulfillment.tests.contracts import test_ports

UnitOfWorkFactory = Callable[[], FulfillmentUnitOfWork]
# The ports suite's fixture: each test runs on the in-memory fake and on Postgres.
unit_of_work = test_ports.unit_of_work
T0 = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


def delivery(n: int, delivered_at: datetime, latency_ms: int, paid: bool = True) -> list[Recorded]:
    """Order n delivered at `delivered_at`, `latency_ms` after its payment (or its reservation)."""
    since = delivered_at - timedelta(milliseconds=latency_ms)
    reservation = Reservation(
        f"o-{n}", "", (ReservedKey(f"k-{n}", "sku-1", 1, 1, Money(100, "CNY")),), "web",
        paid_at=since if paid else None, reserved_at=since + timedelta(hours=1) if paid else since,
    )
    return deliver(None, reservation, delivered_at)


async def test_percentiles_per_hour_and_day_equal_the_domains_in_any_batches(unit_of_work: UnitOfWorkFactory) -> None:
    plan = [(n, T0 + timedelta(minutes=7 * n), 100 + (n * 37) % 900, n % 5 != 0) for n in range(40)]
    batches = [plan[:1], plan[1:17], plan[17:18], plan[18:]]
    for batch in batches:
        async with unit_of_work() as uow:
            await uow.record([r for n, at, ms, paid in batch for r in delivery(n, at, ms, paid)])
            await uow.commit()
    # Paid orders count from the payment (their keys were reserved an hour later, here); orders whose
    # record says no payment time count from the reservation.
    expected = [
        latency.Latency(f"o-{n}", at, ms, "paid" if paid else "reserved") for n, at, ms, paid in plan
    ]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=2)
    for bucket in (HOUR, DAY):
        found = await delivery_latency(unit_of_work, start, end, bucket)
        assert found == latency.stats(expected, bucket)
        assert sum(b.orders for b in found) == 40
    hours = await delivery_latency(unit_of_work, start, end, HOUR)
    assert [b.start for b in hours][:3] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    days = await delivery_latency(unit_of_work, start, end, DAY)
    assert [b.start for b in days] == [datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)]
    # The range's end is exclusive, its start inclusive.
    only_first = await delivery_latency(unit_of_work, T0, T0 + timedelta(minutes=7), HOUR)
    assert only_first == [LatencyStats(T0, 1, 100.0, 100.0, 100.0)]


async def test_a_range_backwards_or_too_long_or_an_unknown_bucket_is_refused(
    unit_of_work: UnitOfWorkFactory,
) -> None:
    for start, end, bucket in [(T0, T0, HOUR), (T0, T0 + timedelta(days=401), DAY), (T0, T0 + timedelta(1), "week")]:
        with pytest.raises(InvalidLatencyQuery):
            await delivery_latency(unit_of_work, start, end, bucket)


def test_a_delivery_measures_from_payment_else_from_reservation_else_not_at_all() -> None:
    at = T0 + timedelta(seconds=2)
    base = KeyDelivered("o", "b", (), ("user_center",), "web", at)
    assert latency.of(base) is None
    paid = KeyDelivered("o", "b", (), (), "web", at, paid_at=T0, reserved_at=T0 + timedelta(seconds=1))
    assert latency.of(paid) == latency.Latency("o", at, 2000, "paid")
    reserved = KeyDelivered("o", "b", (), (), "web", at, reserved_at=T0 + timedelta(seconds=1))
    assert latency.of(reserved) == latency.Latency("o", at, 1000, "reserved")
    # Clocks of two services may disagree: never negative.
    early = KeyDelivered("o", "b", (), (), "web", T0, paid_at=at)
    assert latency.of(early) == latency.Latency("o", T0, 0, "paid")


def test_percentiles_are_postgres_percentile_cont() -> None:
    assert latency.percentile([10.0], 0.99) == 10.0
    assert latency.percentile([0.0, 100.0], 0.5) == 50.0
    ordered = [float(x) for x in range(1, 101)]
    assert latency.percentile(ordered, 0.95) == pytest.approx(95.05)
    assert latency.percentile(ordered, 0.99) == pytest.approx(99.01)
