"""Orders' listed pages: a page token (quanyi_platform.paging) read as orders' own error."""

from __future__ import annotations

from datetime import datetime

from quanyi_platform import paging

from quanyi_orders.domain.errors import InvalidOrder


def page_position(page_token: str) -> tuple[datetime, str] | None:
    """The keyset position a page token names (None: the first page); raises InvalidOrder (answered
    INVALID_ARGUMENT) for a token that is not one."""
    try:
        return paging.decode(page_token)
    except paging.InvalidPageToken as exc:
        raise InvalidOrder(str(exc)) from None
