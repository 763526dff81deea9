"""Delivery latency: the time from an order's payment to its first keys delivered (or from the keys'
reservation, for records that do not say when the order was paid), and its percentiles per bucket of time.

Pure: the projection `delivery_latency` stores one latency per delivered order (`of`); a query asks for
the percentiles per hour or day of delivery (`percentile`, Postgres' `percentile_cont`: linear between the
two nearest ranks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quanyi_fulfillment.domain.errors import FulfillmentError
from quanyi_fulfillment.domain.events import KeyDelivered

HOUR = "hour"
DAY = "day"
BUCKETS = (HOUR, DAY)
MAX_RANGE = timedelta(days=400)
PERCENTILES = (0.5, 0.95, 0.99)


class InvalidLatencyQuery(FulfillmentError):
    """A range or bucket the latency query does not take (an INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class Latency:
    """One delivered order's latency, in whole milliseconds, measured `since` "paid" or "reserved"."""

    order_id: str
    delivered_at: datetime
    latency_ms: int
    since: str


@dataclass(frozen=True)
class LatencyStats:
    """The orders delivered in one bucket (starting at `start`, UTC) and their latency percentiles."""

    start: datetime
    orders: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def of(delivered: KeyDelivered) -> Latency | None:
    """The latency KeyDelivered records: from payment when it says when, else from the reservation;
    None when it says neither (records of older releases). Never negative (clocks of two services)."""
    since, start = ("paid", delivered.paid_at) if delivered.paid_at else ("reserved", delivered.reserved_at)
    if start is None:
        return None
    ms = max(0, math.floor((delivered.at - start).total_seconds() * 1000))
    return Latency(delivered.order_id, delivered.at, ms, since)


def percentile(ordered: Sequence[float], p: float) -> float:
    """The `p` percentile of ascending `ordered` (not empty), as `percentile_cont(p)` computes it."""
    at = p * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def check_query(start: datetime, end: datetime, bucket: str) -> None:
    """A range of `start` (inclusive) to `end` (exclusive), at most MAX_RANGE long, in hours or days."""
    if bucket not in BUCKETS:
        raise InvalidLatencyQuery("the bucket is an hour or a day")
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidLatencyQuery("times need a UTC offset")
    if not start < end <= start + MAX_RANGE:
        raise InvalidLatencyQuery(f"the range ends after it starts, within {MAX_RANGE.days} days")


def bucket_start(at: datetime, bucket: str) -> datetime:
    """The start of the hour or UTC day `at` falls in."""
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if bucket == HOUR else hour.replace(hour=0)


def stats(latencies: Sequence[Latency], bucket: str) -> list[LatencyStats]:
    """The percentiles per bucket of delivery time, oldest first (buckets without orders left out)."""
    by_bucket: dict[datetime, list[float]] = {}
    for x in latencies:
        by_bucket.setdefault(bucket_start(x.delivered_at, bucket), []).append(float(x.latency_ms))
    found = []
    for start in sorted(by_bucket):
        ordered = sorted(by_bucket[start])
        p50, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
        found.append(LatencyStats(start, len(ordered), p50, p95, p99))
    return found
