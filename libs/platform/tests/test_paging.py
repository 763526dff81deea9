"""The shared keyset page token: a round trip, and refusal of anything that is not a position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from quanyi_platform import paging


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.text(min_size=1, max_size=paging.MAX_ID),
)
def test_a_token_decodes_to_the_position_it_was_made_of(at: datetime, row_id: str) -> None:
    token = paging.encode(at, row_id)
    if len(token) <= paging.MAX_TOKEN:
        assert paging.decode(token) == (at, row_id)


def test_an_empty_token_is_the_first_page() -> None:
    assert paging.decode("") is None


@pytest.mark.parametrize("token", [
    "not-a-token", "!!!", "x" * (paging.MAX_TOKEN + 1), paging.encode(datetime(2026, 1, 1, tzinfo=UTC), "o1")[:-4],
    "WzEsMl0",  # [1,2]
    "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwibzEiXQ",  # a time without a zone
    "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsIiJd",  # an empty id
    "eyJhIjoxfQ",  # an object
])
def test_a_token_that_is_not_a_position_is_refused(token: str) -> None:
    with pytest.raises(paging.InvalidPageToken):
        paging.decode(token)


def test_a_page_read_one_row_long_has_the_next_pages_token_and_a_short_one_has_none() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(t0 - timedelta(minutes=n), f"r{n}") for n in range(4)]
    kept, token = paging.page(rows, 3, lambda r: r)
    assert kept == rows[:3] and paging.decode(token) == rows[2]
    assert paging.page(rows[:3], 3, lambda r: r) == (rows[:3], "")
