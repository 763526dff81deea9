"""Next and previous links over keyset pages: the tokens of the pages before travel in the URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st
from quanyi_gateway.web.paging import MAX_BACK, pager


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_the_first_page_has_no_previous_link_and_its_next_link_carries_it_back() -> None:
    first = pager("/admin/orders", {"status": "PAID", "channel": ""}, "", [], "t2")
    assert first.previous_url == "" and first.number == 1
    assert _query(first.next_url) == {"status": ["PAID"], "page_token": ["t2"], "back": [""]}


def test_previous_goes_back_one_page_and_the_last_page_has_no_next_link() -> None:
    third = pager("/admin/orders", {}, "t3", ["", "t2"], "")
    assert third.next_url == "" and third.number == 3
    assert _query(third.previous_url) == {"page_token": ["t2"], "back": [""]}
    second = pager("/admin/orders", {}, "t2", [""], "t3")
    assert second.previous_url == "/admin/orders"


def test_a_hand_made_url_cannot_grow_the_carried_tokens_past_the_bound() -> None:
    long = pager("/admin/keys", {}, "t", ["x" * 1000] * (MAX_BACK * 3), "n")
    assert len(long.back) == MAX_BACK and all(len(b) <= 200 for b in long.back)
    assert len(_query(long.next_url)["back"]) == MAX_BACK


@given(st.lists(st.text(alphabet="abc|:-0123456789", min_size=1, max_size=12), min_size=1, max_size=8))
def test_walking_forward_then_back_returns_to_every_page_in_turn(tokens: list[str]) -> None:
    # Forward through pages whose tokens are "", tokens[0], tokens[1], ...; then back again by the links.
    pages = ["", *tokens]
    here = pager("/p", {}, "", [], pages[1])
    visited = [here.token]
    for i in range(1, len(pages)):
        q = _query(here.next_url)
        here = pager(
            "/p", {}, q["page_token"][0], q.get("back", []), pages[i + 1] if i + 1 < len(pages) else ""
        )
        visited.append(here.token)
        assert here.number == i + 1
    assert visited == pages
    for i in range(len(pages) - 2, -1, -1):
        q = _query(here.previous_url) if "?" in here.previous_url else {}
        token = q.get("page_token", [""])[0]
        here = pager("/p", {}, token, q.get("back", []), pages[i + 1])
        assert here.token == pages[i]
