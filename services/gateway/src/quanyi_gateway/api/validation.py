"""The gateway's one input-validation layer, in front of every route.

Two halves that share these rules:
- `middleware.RefuseControlCharacters`, pure ASGI middleware, refuses control characters (NUL included)
  in the path and in every query parameter before routing, with a field-level 422 problem; nothing
  behind it runs.
- The request bodies' models (`models.Input`) refuse control characters in every text field, bound money
  and quantities, and validate ids by their format (`ID_PATTERN`); path parameters use `PathId`.
Postgres refuses NUL in text and a bigint overflows past 9.2e18: both used to surface as 500s.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Path, Query
from starlette.types import Scope

# C0 and C1 control characters and DEL. Tab, CR and LF are refused too: no id, name, code or address
# holds one.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_MESSAGE = "control characters (such as NUL) are not allowed"
# Ids the services issue (UUIDs) and those clients choose: letters, digits and . _ : - only.
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# A partner's or a provider's name in a path.
NAME_PATTERN = r"^[a-z0-9_-]+$"
# The largest amount of money the API takes, in minor units (10^12 fen = 10 billion yuan): an order's
# total, 50 lines of 100 units at most, stays far below a bigint's 9.2e18.
MAX_MONEY_MINOR = 10**12

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
# A keyset page's cursor (quanyi_platform.paging): base64url, opaque. A well-formed one that names no
# position is the service's INVALID_ARGUMENT, a 422 problem like this pattern's.
CursorQuery = Annotated[
    str,
    Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$", description="The `next_cursor` of the previous page."),
]
PathName = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]


def has_control_characters(value: str) -> bool:
    return CONTROL.search(value) is not None


def refuse_control_characters(cls: Any, value: Any) -> Any:
    """A pydantic field validator: refuses control characters in a text value (others pass through)."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def find_control_characters(scope: Scope) -> list[str | int] | None:
    """The location of the first control character in the request's path or query, or None."""
    if has_control_characters(scope["path"]):
        return ["path"]
    query = scope.get("query_string", b"")
    if query:
        text = query.decode("latin-1")
        # Fast path: no escape and no raw control byte means no control character after decoding either.
        if "%" not in text and not has_control_characters(text):
            return None
        for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
            if has_control_characters(name):
                return ["query"]
            if has_control_characters(value):
                return ["query", name]
    return None
