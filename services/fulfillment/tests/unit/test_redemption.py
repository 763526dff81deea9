from datetime import UTC, datetime, timedelta, timezone

import pytest
from quanyi_fulfillment.domain.errors import InvalidRedemption
from quanyi_fulfillment.domain.redemption import is_duplicate, parse_report, rfc3339

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_a_report_time_is_kept_in_utc() -> None:
    report = parse_report("k1", "tmall", "2025-01-01T20:00:00+08:00", NOW)
    assert report.redeemed_at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert report.redeemed_at.tzinfo is UTC


def test_a_report_without_a_time_means_now() -> None:
    assert parse_report("k1", "tmall", "", NOW).redeemed_at == NOW


def test_a_report_without_partner_or_with_a_zoneless_time_is_refused() -> None:
    with pytest.raises(InvalidRedemption):
        parse_report("k1", " ", "", NOW)
    with pytest.raises(InvalidRedemption):
        parse_report("k1", "jd", "2025-01-01T12:00:00", NOW)
    with pytest.raises(InvalidRedemption):
        parse_report("k1", "jd", "yesterday", NOW)


def test_a_second_redemption_is_a_duplicate() -> None:
    assert not is_duplicate(None)
    assert is_duplicate(NOW)


def test_times_are_written_as_rfc3339_with_z() -> None:
    assert rfc3339(datetime(2025, 1, 1, 20, tzinfo=timezone(timedelta(hours=8)))) == "2025-01-01T12:00:00Z"
