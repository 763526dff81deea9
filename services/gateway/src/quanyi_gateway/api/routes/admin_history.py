"""An order's or a key's whole history across the services (the same data as `quanyi history`), for
operators who may read audit trails (`audit:read`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from quanyi_gateway.api.deps import Allowed, get_current_admin
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.api.validation import PathId
from quanyi_gateway.application.history import CrossServiceHistory, Histories
from quanyi_gateway.application.roles import Permission as P

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(get_current_admin), Allowed(P.AUDIT_READ)],
    responses=responses(401, 403, 404, 422),
)


def get_histories(request: Request) -> Histories:
    found: Histories = request.app.state.histories
    return found


HistoriesDep = Annotated[Histories, Depends(get_histories)]
AsOf = Annotated[
    datetime | None, Query(description="The instant to fold up to (RFC 3339; UTC when no offset is given).")
]


class HistoryStepPublic(BaseModel):
    """One event in the causal chain, indented `depth` under the event that caused it."""

    depth: int
    at: str
    service: str
    event: str
    event_id: str
    caused_by: str | None
    details: str


class HistoryPublic(BaseModel):
    """The subject's state as of the instant, its facts, and the causal chain of every service's events;
    `missing` names services that did not answer (the chain lacks their events)."""

    subject: str
    kind: str
    as_of: str | None
    state: str
    facts: dict[str, Any]
    chain: list[HistoryStepPublic]
    missing: list[str]
    truncated: list[str]


def utc(instant: datetime | None) -> datetime | None:
    """An instant as given, UTC when it names no offset."""
    if instant is None or instant.tzinfo is not None:
        return instant
    return instant.replace(tzinfo=UTC)


def _public(found: CrossServiceHistory, what: str) -> HistoryPublic:
    if not found.found:
        raise Problem(404, f"no service has events of this {what}", slug="not-found")
    return HistoryPublic.model_validate(found.as_json())


@router.get("/orders/{order_id}/history")
async def order_history(order_id: PathId, histories: HistoriesDep, as_of: AsOf = None) -> HistoryPublic:
    """An order's whole history across the services as of an instant: state, facts and causal chain."""
    return _public(await histories.of_order(order_id, utc(as_of)), "order")


@router.get("/keys/{key_id}/history")
async def key_history(key_id: PathId, histories: HistoriesDep, as_of: AsOf = None) -> HistoryPublic:
    """A card key's history across the services as of an instant (its order's events that name it)."""
    return _public(await histories.of_key(key_id, utc(as_of)), "key")
