"""The edge's control-character check on paths and queries."""

from __future__ import annotations

import pytest
from quanyi_gateway.api.validation import find_control_characters, has_control_characters


def scope(path: str, query: bytes = b"") -> dict[str, object]:
    return {"type": "http", "path": path, "query_string": query}


@pytest.mark.parametrize(
    ("path", "query", "loc"),
    [
        ("/v1/orders/\x00", b"", ["path"]),
        ("/v1/skus/a\x7fb", b"", ["path"]),
        ("/v1/me/keys", b"order_id=%00", ["query", "order_id"]),
        ("/v1/me/keys", b"order_id=ok&cursor=%C2%85", ["query", "cursor"]),  # U+0085, a C1 control
        ("/v1/me/keys", b"a%0Ab=1", ["query"]),
        ("/v1/skus", b"limit=5&cursor=abc", None),
        ("/v1/skus", b"cursor=%E4%B8%AD", None),  # a CJK character is text
        ("/v1/skus", b"cursor=%ff", None),  # undecodable bytes are no control character
    ],
)
def test_control_characters_are_found_where_they_are(path: str, query: bytes, loc: list[str] | None) -> None:
    assert find_control_characters(scope(path, query)) == loc


def test_tab_cr_lf_and_del_count_as_control_characters_but_text_does_not() -> None:
    assert all(has_control_characters(c) for c in ("\t", "\r", "\n", "\x7f", "\x9f"))
    assert not has_control_characters("权益 VIP-0001 ok@example.com")
