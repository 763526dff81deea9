"""Erasure of a buyer's personal data: by the buyer (DELETE /v1/me) or by an operator."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from quanyi_gateway.api.deps import AdminUser, Allowed, CurrentUser
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.privacy import BuyerNotFound, Erasure, Privacy
from quanyi_gateway.application.roles import Permission as P

router = APIRouter(tags=["privacy"])


def get_privacy(request: Request) -> Privacy:
    privacy: Privacy = request.app.state.privacy
    return privacy


PrivacyDep = Annotated[Privacy, Depends(get_privacy)]


class ErasurePublic(BaseModel):
    """An erasure: which buyer id, when, and at whose request ("self" or the admin's id). The buyer's orders,
    keys and ledger entries stay, under this id."""

    buyer_id: uuid.UUID
    erased_at: str
    requested_by: str


def _public(erasure: Erasure) -> ErasurePublic:
    return ErasurePublic(
        buyer_id=erasure.buyer_id, erased_at=erasure.erased_at.isoformat(), requested_by=erasure.requested_by
    )


@router.delete("/me", status_code=204, responses=responses(401, 403))
async def erase_me(request: Request, user: CurrentUser, privacy: PrivacyDep) -> Response:
    """Erase my personal data (my account and e-mail address); my orders and keys stay under my id. Every
    token of the account stops working; it cannot sign in again."""
    if user.is_admin:
        raise Problem(403, "an admin account is not erased this way", slug="forbidden")
    await privacy.erase(user.user_id, "self")
    await request.app.state.resources.accounts.revoke_all(user.user_id)
    return Response(status_code=204)


@router.post(
    "/admin/buyers/{buyer_id}/erasure",
    dependencies=[Allowed(P.BUYERS_ERASE)],
    responses=responses(401, 403, 404),
)
async def erase_buyer(
    request: Request, admin: AdminUser, privacy: PrivacyDep, buyer_id: Annotated[uuid.UUID, Path()]
) -> ErasurePublic:
    """Erase a buyer's personal data at their request (PIPL): the account, its e-mail address and what is
    keyed by it; the buyer's tokens stop working. Repeating it returns the first erasure."""
    try:
        erasure = await privacy.erase(buyer_id, str(admin.user_id))
    except BuyerNotFound:
        raise Problem(404, "no buyer has this id", slug="not-found") from None
    await request.app.state.resources.accounts.revoke_all(buyer_id)
    return _public(erasure)
