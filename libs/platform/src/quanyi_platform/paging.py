"""Keyset page tokens: the one cursor codec of every listed page (a service's page_token, the API's cursor).

A token is the base64url (no padding) of a JSON array [position time in RFC 3339, row id]: the last row of
the page before. It is opaque to callers and safe to tamper with: `decode` refuses anything that is not such
a position (InvalidPageToken, which services answer as INVALID_ARGUMENT and the gateway as a 422 problem),
and a well-formed but made-up position only moves the keyset within the rows the caller may list anyway.
Keyset, never OFFSET: a row inserted while someone pages lands before or after the position, so each row
already there is listed exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

MAX_TOKEN = 200
MAX_ID = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class InvalidPageToken(ValueError):
    """The token is not a position of a listed page."""

    def __init__(self) -> None:
        super().__init__("page_token is not a page of this list")


def encode(at: datetime, row_id: str) -> str:
    """The token of the position after (at, row_id)."""
    raw = json.dumps([at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str) -> tuple[datetime, str] | None:
    """The position (time, id) a token names; None for "" (the first page). Raises InvalidPageToken
    otherwise."""
    if not token:
        return None
    if len(token) > MAX_TOKEN:
        raise InvalidPageToken
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, row_id = json.loads(raw)
        when = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidPageToken from None
    if when.tzinfo is None or not isinstance(row_id, str) or not row_id or len(row_id) > MAX_ID:
        raise InvalidPageToken
    return when, row_id


def page_size(asked: int) -> int:
    """The page size to use: the default for 0 (or less), never more than the maximum."""
    return DEFAULT_PAGE_SIZE if asked <= 0 else min(asked, MAX_PAGE_SIZE)


def page(rows: Sequence[T], size: int, position: Callable[[T], tuple[datetime, str]]) -> tuple[list[T], str]:
    """The page of `rows` read with LIMIT size + 1, and the next page's token ("" when nothing follows)."""
    kept = list(rows[:size])
    return kept, (encode(*position(kept[-1])) if len(rows) > size else "")
