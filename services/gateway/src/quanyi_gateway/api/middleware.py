"""Pure ASGI middleware (no task per request): trace context, admission control, the last-resort 500."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping

from opentelemetry import trace
from quanyi_platform import telemetry
from quanyi_platform.transient import is_transient
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanyi_gateway.api.problems import Problem, problem_response, unavailable
from quanyi_gateway.api.validation import CONTROL, CONTROL_MESSAGE, find_control_characters

log = logging.getLogger(__name__)


# The request headers that carry trace context and the correlation id (W3C trace context and baggage).
_TRACE_HEADERS = {
    b"traceparent": "traceparent",
    b"tracestate": "tracestate",
    b"baggage": "baggage",
    b"x-correlation-id": "x-correlation-id",
}


class Tracing:
    """Continues the caller's W3C trace (and x-correlation-id) so peers' spans join the request's trace.
    Only the trace headers are read from the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        for key, value in scope.get("headers", ()):
            name = _TRACE_HEADERS.get(key)
            if name is not None:
                carrier[name] = value.decode("latin-1")
        span_name = f"{scope['method']} {scope['path']}"
        with telemetry.continue_trace(carrier, span_name, kind=trace.SpanKind.SERVER):
            await self.app(scope, receive, send)


class UnhandledErrors:
    """An exception no handler answered becomes a problem with no stack trace in it; the trace is logged.

    A passing failure (the database pool exhausted under overload, a lost connection, a peer's transient
    status) is a 503 + Retry-After, which a client may retry; anything else is a 500.
    """

    def __init__(self, app: ASGIApp, retry_after_s: int = 1) -> None:
        self.app = app
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            where = {"method": scope["method"], "path": scope["path"]}
            if is_transient(exc):
                log.warning("transient failure: %s", type(exc).__name__, extra=where)
                problem = unavailable("the service is busy; retry later", self.retry_after_s)
            else:
                log.exception("unhandled error", extra=where)
                problem = Problem(500, "internal error", slug="internal")
            if started:
                raise
            await problem_response(problem, scope["path"])(scope, receive, send)


class AdmissionControl:
    """At most `max_in_flight` requests are worked on at once; past that, 503 + Retry-After at once.

    Under an open-loop overload, queueing makes every request slow and throughput collapse; refusing
    the excess keeps the system at its knee (DESIGN.md, Speed). Probes are never refused. `routes` caps
    some (method, path) pairs lower: placements (POST /v1/orders) are refused before the payments of
    orders already placed, which finish what was started. A request past its route's cap waits up to
    `route_wait_s` for a slot, in arrival order, before it is refused: a burst (a flash sale's buyers all
    at once) is worked off at the knee, while a lasting overload is still refused after that wait. The
    waiting requests count against `max_in_flight`, so what waits is bounded too.
    """

    def __init__(
        self, app: ASGIApp, max_in_flight: int, retry_after_s: int, exempt: frozenset[str] = frozenset(),
        routes: Mapping[tuple[str, str], int] | None = None, route_wait_s: float = 0.0,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.exempt = exempt
        self.in_flight = 0
        self.refused = 0
        self.route_wait_s = route_wait_s
        self.route_slots = {route: asyncio.Semaphore(cap) for route, cap in (routes or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await self._refuse(scope, receive, send)
            return
        self.in_flight += 1
        try:
            slots = self.route_slots.get((scope["method"], scope["path"]))
            if slots is None:
                await self.app(scope, receive, send)
                return
            if not await self._slot(slots):
                await self._refuse(scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                slots.release()
        finally:
            self.in_flight -= 1

    async def _slot(self, slots: asyncio.Semaphore) -> bool:
        """Take one of the route's slots: at once when one is free, else within `route_wait_s`."""
        if not slots.locked():
            await slots.acquire()  # free: returns without waiting
            return True
        if self.route_wait_s <= 0:
            return False
        try:
            await asyncio.wait_for(slots.acquire(), self.route_wait_s)
        except TimeoutError:
            return False
        return True

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.refused += 1
        problem = unavailable("the gateway is at capacity; retry later", self.retry_after_s)
        await problem_response(problem, scope["path"])(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body outgrows the limit; an HTTPException, so routes answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """Refuses request bodies over `max_bytes`: at once by Content-Length, else while they are read.
    Paths matching `unlimited` (uploads that stream to disk and enforce their own limit) pass."""

    def __init__(self, app: ASGIApp, max_bytes: int, unlimited: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = re.compile(unlimited) if unlimited else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.unlimited and self.unlimited.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                too_large = BodyTooLarge(self.max_bytes)
                problem = Problem(413, too_large.detail, slug="too-large")
                await problem_response(problem, scope["path"])(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def control_character_problem(loc: list[str | int]) -> Problem:
    return Problem(
        422,
        "the request is not valid",
        title="Validation failed",
        slug="validation",
        errors=[{"loc": loc, "msg": CONTROL_MESSAGE, "type": "control_character"}],
    )


class RefuseControlCharacters:
    """422 for a request whose path or query holds a control character (NUL included); no route runs.
    Request bodies are checked by their models (`models.Input`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            loc = find_control_characters(scope)
            if loc is not None:
                # The problem's instance is the path without the offending characters.
                instance = CONTROL.sub("", scope["path"])
                await problem_response(control_character_problem(loc), instance)(scope, receive, send)
                return
        await self.app(scope, receive, send)
