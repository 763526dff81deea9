"""Next and previous links over a peer's keyset pages (its page_token / next_page_token).

A keyset token only goes forward, so a page's URL carries the tokens of the pages before it (`back`, oldest
first, at most MAX_BACK): "previous" is the last of them, and the first page's token is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

import grpc
import quanyi_platform.paging
from fastapi import Query

from quanyi_gateway.web.session import WebError

MAX_BACK = 30
MAX_TOKEN = quanyi_platform.paging.MAX_TOKEN
# A listed page's query parameters: its token, and the tokens of the pages before it.
PageToken = Annotated[str, Query(max_length=MAX_TOKEN)]
Back = Annotated[list[str] | None, Query(max_length=MAX_BACK + 1)]


@dataclass(frozen=True)
class Pager:
    """Where a listed page is: its token, the tokens of the pages before it, the next page's token."""

    path: str
    filters: Mapping[str, str]
    token: str
    back: Sequence[str]
    next_token: str

    def _url(self, token: str, back: Sequence[str]) -> str:
        query = [(k, v) for k, v in self.filters.items() if v]
        if token:
            query.append(("page_token", token))
        query += [("back", b) for b in back[-MAX_BACK:]]
        return f"{self.path}?{urlencode(query)}" if query else self.path

    @property
    def next_url(self) -> str:
        """The next page's URL; empty on the last page."""
        return self._url(self.next_token, [*self.back, self.token]) if self.next_token else ""

    @property
    def previous_url(self) -> str:
        """The previous page's URL; empty on the first page."""
        if not self.token:
            return ""
        return self._url(self.back[-1] if self.back else "", self.back[:-1])

    @property
    def number(self) -> int:
        """The page's number, 1 for the first (as far as the links carried back)."""
        return len(self.back) + 1 if self.token else 1


def pager(
    path: str, filters: Mapping[str, str], token: str, back: Sequence[str], next_token: str
) -> Pager:
    """A Pager with the carried-back tokens bounded (a hand-made URL cannot make them grow)."""
    kept = [b[:MAX_TOKEN] for b in back[-MAX_BACK:]] if token else []
    return Pager(path, dict(filters), token, kept, next_token)


def token_refused(exc: grpc.aio.AioRpcError) -> WebError | None:
    """The error page for a page token the peer refused (a hand-made or changed link): 422 with a way back
    to the first page. None for any other error, which the route maps as usual."""
    return WebError(422, "pager.bad_token") if exc.code() == grpc.StatusCode.INVALID_ARGUMENT else None
