"""RFC 9457 problem details: every error the gateway returns is `application/problem+json`.

Details are written for the caller and never carry request bodies, keys, secrets or peers' internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from quanyi_platform.paging import InvalidPageToken
from starlette.exceptions import HTTPException as StarletteHTTPException

from quanyi_gateway.application.limits import RateLimited
from quanyi_gateway.models import ProblemDetails

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:quanyi:problem:"


class Problem(Exception):
    """An error to answer with a problem document. `slug` names a quanyi problem type; None is about:blank."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        slug: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = f"{TYPE_BASE}{slug}" if slug else "about:blank"
        self.headers = dict(headers or {})
        self.extensions = extensions


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(problem: Problem, instance: str) -> ProblemResponse:
    content = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        **problem.extensions,
    }
    return ProblemResponse(content, status_code=problem.status, headers=problem.headers)


def unavailable(detail: str, retry_after_s: int) -> Problem:
    """503 with Retry-After: the caller may try again shortly."""
    return Problem(503, detail, slug="unavailable", headers={"Retry-After": str(retry_after_s)})


# gRPC status -> (HTTP status, problem slug). Peers' messages for these are short and safe to show.
_CLIENT_ERRORS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid-argument"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "invalid-argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed-precondition"),
    grpc.StatusCode.ABORTED: (409, "conflict"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission-denied"),
}
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}


def rpc_problem(
    code: grpc.StatusCode, details: str, retry_after_s: int, invalid_argument_status: int = 422
) -> Problem:
    """The problem answering a peer's gRPC error.

    Client errors keep the peer's message; transient failures become 503 + Retry-After, rate limits 429 +
    Retry-After, and anything else a 500 whose detail says nothing about the inside.
    """
    if code in _CLIENT_ERRORS:
        status, slug = _CLIENT_ERRORS[code]
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            status = invalid_argument_status
        return Problem(status, details or HTTPStatus(status).phrase, slug=slug)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return Problem(
            429,
            details or "too many requests",
            slug="rate-limited",
            headers={"Retry-After": str(retry_after_s)},
        )
    if code in _RETRYABLE:
        return unavailable("a service behind the gateway is unavailable; retry later", retry_after_s)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Problem(501, "this operation is not available yet", slug="not-implemented")
    return Problem(500, "internal error", slug="internal")


def from_rpc_error(
    exc: grpc.aio.AioRpcError, retry_after_s: int, invalid_argument_status: int = 422
) -> Problem:
    problem = rpc_problem(exc.code(), exc.details() or "", retry_after_s, invalid_argument_status)
    if problem.status >= 500:
        log.warning("peer call failed", extra={"grpc_code": exc.code().name, "grpc_details": exc.details()})
    return problem


def validation_problem(errors: Sequence[Any]) -> Problem:
    """400 for a body that is not JSON, else 422 with the errors' locations and messages (never the input)."""
    if any(isinstance(e, Mapping) and e.get("type") == "json_invalid" for e in errors):
        return Problem(
            400, "the request body is not valid JSON", title="Malformed JSON", slug="malformed-json"
        )
    cleaned = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
        if isinstance(e, Mapping)
    ]
    return Problem(
        422, "the request is not valid", title="Validation failed", slug="validation", errors=cleaned
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem documents for these statuses."""
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }


def install(app: FastAPI, retry_after_s: int) -> None:
    """Answer every error raised in a route or by the framework with a problem document."""

    async def on_problem(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc.errors()), request.url.path)

    async def on_http(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
        problem = Problem(
            exc.status_code, detail.lower() if detail == phrase else detail, headers=exc.headers
        )
        return problem_response(problem, request.url.path)

    async def on_rpc(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, grpc.aio.AioRpcError)
        return problem_response(from_rpc_error(exc, retry_after_s), request.url.path)

    async def on_rate_limited(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RateLimited)
        problem = Problem(
            429, exc.reason, slug="rate-limited", headers={"Retry-After": str(exc.retry_after_s)}
        )
        return problem_response(problem, request.url.path)

    async def on_bad_cursor(request: Request, exc: Exception) -> ProblemResponse:
        # A list the gateway keeps itself refused its cursor (a peer's list answers INVALID_ARGUMENT).
        return problem_response(Problem(422, str(exc), slug="invalid-argument"), request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RateLimited, on_rate_limited)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(grpc.aio.AioRpcError, on_rpc)
    app.add_exception_handler(InvalidPageToken, on_bad_cursor)


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI say what the gateway answers for invalid input: a 422 problem document (with its
    field-level `errors`), on every operation, where FastAPI documents its own JSON error body."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        if schema.get("x-quanyi-problems"):
            return schema
        problem = responses(422)[422]
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"]["422"] = {
                        "description": "Validation failed (a field-level reason for each error)",
                        "content": problem["content"],
                    }
        # ProblemDetails is a component already: every router documents problems with it.
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        schema["x-quanyi-problems"] = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
