"""Operators' accounts and roles: an owner adds operators with a role, changes a role, removes an account.
Owner only (operators:manage)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field, field_validator

from quanyi_gateway.api.deps import AccountsDep, Allowed, JsonBody, get_current_admin
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.errors import ConfiguredOwner, EmailTaken, OperatorNotFound
from quanyi_gateway.application.model import User
from quanyi_gateway.application.roles import OperatorRole
from quanyi_gateway.application.roles import Permission as P
from quanyi_gateway.models import EMAIL_PATTERN, Input

router = APIRouter(
    prefix="/admin/operators",
    tags=["admin", "operators"],
    dependencies=[Depends(get_current_admin), Allowed(P.OPERATORS_MANAGE)],
    responses=responses(401, 403, 503),
)
UserId = Annotated[uuid.UUID, Path()]


class OperatorCreate(Input):
    """A new operator: their sign-in address, a first password and their role."""

    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["finance@example.com"])
    password: str = Field(min_length=8, max_length=256)
    role: OperatorRole

    @field_validator("email")
    @classmethod
    def _lower(cls, email: str) -> str:
        return email.strip().lower()


class OperatorRoleUpdate(Input):
    role: OperatorRole


class OperatorPublic(BaseModel):
    user_id: str
    email: str
    role: str = Field(
        description="owner, operations, finance, support or read-only; admin: the configured owner."
    )


def _public(user: User) -> OperatorPublic:
    return OperatorPublic(user_id=str(user.user_id), email=user.email, role=user.role)


def _refused(exc: Exception) -> Problem:
    if isinstance(exc, ConfiguredOwner):
        return Problem(
            409, "the owner configured by QUANYI_ADMIN_EMAIL keeps its role and account", slug="conflict"
        )
    return Problem(404, "no operator has this id", slug="not-found")


@router.post("", status_code=201, dependencies=[JsonBody], responses=responses(400, 409, 415, 422))
async def add_operator(body: OperatorCreate, accounts: AccountsDep) -> OperatorPublic:
    """Add an operator with a role; they sign in with this address and password."""
    try:
        user = await accounts.add_operator(body.email, body.password, body.role)
    except EmailTaken:
        raise Problem(409, "an account with this e-mail address exists", slug="email-taken") from None
    return _public(user)


@router.get("")
async def list_operators(accounts: AccountsDep) -> list[OperatorPublic]:
    """Every operator and their role, by e-mail address."""
    return [_public(u) for u in await accounts.operators()]


@router.put("/{user_id}/role", dependencies=[JsonBody], responses=responses(404, 409, 415, 422))
async def change_role(user_id: UserId, body: OperatorRoleUpdate, accounts: AccountsDep) -> OperatorPublic:
    """Give an operator another role; the tokens they hold stop working and they sign in again."""
    try:
        return _public(await accounts.change_role(user_id, body.role))
    except (OperatorNotFound, ConfiguredOwner) as exc:
        raise _refused(exc) from None


@router.delete("/{user_id}", status_code=204, responses=responses(404, 409, 422))
async def remove_operator(user_id: UserId, accounts: AccountsDep) -> Response:
    """Remove an operator's account; the tokens they hold stop working at once."""
    try:
        await accounts.remove_operator(user_id)
    except (OperatorNotFound, ConfiguredOwner) as exc:
        raise _refused(exc) from None
    return Response(status_code=204)
