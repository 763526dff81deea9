"""The order page's live part as server-sent events: the buyer's browser holds one request open and the
gateway sends the fragment (the same one GET /orders/{id}/live answers) each time it changes, until the
order rests. app.js falls back to polling the fragment when the stream cannot be opened.

The stream is the buyer's own, checked as the page is (the session cookie, 404 for anyone else's order),
and the session is checked again before every look, so a sign-out ends the stream. A stream lasts at most
STREAM_S; the browser's EventSource opens the next one by itself (after the `retry` it was told). Each open
stream costs a look at the order's services every LOOK_S, so a buyer holds at most MAX_STREAMS_PER_BUYER at
once in a gateway process (more tabs than that is a script): past it, 429 with Retry-After, and the page
falls back to polling, which the rate limits and admission control already bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.model import User
from quanyi_gateway.web.render import page
from quanyi_gateway.web.routes.storefront import _order_view as order_view
from quanyi_gateway.web.session import SESSION_COOKIE, WebError, WebUser

router = APIRouter(include_in_schema=False)

# How often the gateway looks at a moving order: paid, every 0.25 s (delivery shows well within a second);
# awaiting payment, every second.
LOOK_S = 0.25
LOOK_UNPAID_S = 1.0
# A stream ends after this long (the browser opens the next), and says something at least this often so
# that proxies keep it open.
STREAM_S = 60.0
KEEPALIVE_S = 15.0
RETRY_MS = 500
MAX_STREAMS_PER_BUYER = 4
RETRY_AFTER_S = 5


class StreamSlots:
    """Open streams per buyer in this process. A slot is taken before a stream starts and given back when it
    ends; one whose stream never started (the client left before the first byte) lapses after `lapse_s`,
    since no stream lives longer than STREAM_S."""

    def __init__(
        self, per_buyer: int, lapse_s: float = STREAM_S + 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_buyer = per_buyer
        self.lapse_s = lapse_s
        self.clock = clock
        self.open: dict[str, list[object]] = {}
        self._since: dict[object, float] = {}

    def take(self, buyer_id: str) -> object | None:
        """A slot, or None when the buyer holds `per_buyer` already."""
        now = self.clock()
        held = [s for s in self.open.get(buyer_id, []) if now - self._since[s] < self.lapse_s]
        for lapsed in set(self.open.get(buyer_id, [])) - set(held):
            del self._since[lapsed]
        if len(held) >= self.per_buyer:
            self.open[buyer_id] = held
            return None
        slot = object()
        self._since[slot] = now
        self.open[buyer_id] = [*held, slot]
        return slot

    def give(self, buyer_id: str, slot: object) -> None:
        held = [s for s in self.open.get(buyer_id, []) if s is not slot]
        self._since.pop(slot, None)
        if held:
            self.open[buyer_id] = held
        else:
            self.open.pop(buyer_id, None)


def _slots(request: Request) -> StreamSlots:
    slots = getattr(request.app.state, "live_streams", None)
    if slots is None:
        slots = request.app.state.live_streams = StreamSlots(MAX_STREAMS_PER_BUYER)
    return slots


def event(name: str, data: str) -> bytes:
    """One server-sent event: its name, and each line of `data` as a data line."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n".encode()


async def _fragment(request: Request, user: User, order_id: str) -> tuple[str, bool, bool]:
    """The live fragment's HTML, whether the order still moves, and whether it awaits payment."""
    view = await order_view(request, user, order_id)
    html = bytes(page(request, "_order_live.html", user, **view).body).decode()
    return html, bool(view["moving"]), view["order"].status == "PENDING_PAYMENT"


@router.get("/orders/{order_id}/events")
async def order_events(request: Request, order_id: PathId, user: WebUser) -> StreamingResponse:
    """The order page's live fragment as a stream of `fragment` events, then `done` once the order rests."""
    first = await _fragment(request, user, order_id)  # a 404 (or the sign-in) before the stream starts
    accounts = request.app.state.resources.accounts
    token = request.cookies.get(SESSION_COOKIE, "")
    slots, buyer = _slots(request), str(user.user_id)
    slot = slots.take(buyer)
    if slot is None:
        raise WebError(429, "error.rate_limited", retry_after_s=RETRY_AFTER_S)

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in _events(first):
                yield chunk
        finally:
            slots.give(buyer, slot)

    async def _events(first: tuple[str, bool, bool]) -> AsyncIterator[bytes]:
        html, moving, unpaid = first
        yield f"retry: {RETRY_MS}\n\n".encode() + event("fragment", html)
        started = said = time.monotonic()
        while moving:
            await asyncio.sleep(LOOK_UNPAID_S if unpaid else LOOK_S)
            now = time.monotonic()
            if now - started > STREAM_S or await request.is_disconnected():
                return
            if accounts.authenticate(token) is None:  # signed out (or revoked) since the stream began
                yield event("done", "")
                return
            try:
                latest, moving, unpaid = await _fragment(request, user, order_id)
            except WebError:
                return
            except grpc.aio.AioRpcError:  # a peer unavailable for a moment: look again next time
                continue
            if latest != html:
                html, said = latest, now
                yield event("fragment", html)
            elif now - said > KEEPALIVE_S:
                said = now
                yield b": keep-alive\n\n"
        yield event("done", "")

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
