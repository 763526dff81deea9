"""Structured JSON logs carrying the correlation id, and OpenTelemetry tracing with W3C propagation."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, correlation and trace ids, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if cid := correlation_id.get():
            out["correlation_id"] = cid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            out["trace_id"] = format(span.trace_id, "032x")
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, str | int | float | bool) or value is None else str(value)
                )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if as_json:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "grpc", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def setup_tracing(service: str) -> None:
    """Install a tracer provider so spans exist and propagate; exporters are added by deployment."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": service})))


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


_tracer: tuple[object, trace.Tracer] | None = None


def _quanyi_tracer() -> trace.Tracer:
    """The platform's tracer, asked of the provider once (per provider: tests may install another)."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer("quanyi"))
    return _tracer[1]


def inject_headers() -> dict[str, str]:
    """The current trace context and correlation id as carrier headers (traceparent, tracestate, ...)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if cid := correlation_id.get():
        carrier["x-correlation-id"] = cid
    return carrier


@contextmanager
def continue_trace(
    carrier: Mapping[str, str], span_name: str, corr: str = "", kind: trace.SpanKind = trace.SpanKind.CONSUMER
) -> Iterator[trace.Span]:
    """Continue the trace named in `carrier` (W3C headers) and set the correlation id for logs."""
    token = otel_context.attach(propagate.extract(carrier))
    ctoken = correlation_id.set(corr or carrier.get("x-correlation-id", ""))
    try:
        with _quanyi_tracer().start_as_current_span(span_name, kind=kind) as span:
            yield span
    finally:
        correlation_id.reset(ctoken)
        otel_context.detach(token)
