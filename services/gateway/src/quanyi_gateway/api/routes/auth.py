"""Registration, sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from quanyi_gateway.api.deps import AccountsDep, JsonBody, bearer, client_ip
from quanyi_gateway.api.problems import Problem, responses
from quanyi_gateway.application.errors import BadCredentials, EmailTaken
from quanyi_gateway.models import TokenCreate, TokenPublic, UserCreate, UserPublic

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[JsonBody])


@router.post("/register", status_code=201, responses=responses(400, 409, 415, 422, 429))
async def register(body: UserCreate, accounts: AccountsDep, request: Request) -> UserPublic:
    """Create a buyer account (limited per address and per IP address: 429 + Retry-After past that)."""
    try:
        user = await accounts.register(body.email, body.password, client_ip(request))
    except EmailTaken:
        raise Problem(409, "an account with this e-mail address exists", slug="email-taken") from None
    return UserPublic(user_id=str(user.user_id), email=user.email)


@router.post("/token", responses=responses(400, 401, 415, 422, 429))
async def sign_in(body: TokenCreate, accounts: AccountsDep, request: Request) -> TokenPublic:
    """Exchange an e-mail address and password for a bearer token. Limited per account and per IP
    address; after failed attempts the account is locked for exponentially longer (429 + Retry-After)."""
    try:
        issued = await accounts.sign_in(body.email, body.password, client_ip(request))
    except BadCredentials:
        raise Problem(
            401,
            "the e-mail address or password is wrong",
            slug="bad-credentials",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    return TokenPublic(access_token=issued.token, expires_in=issued.expires_in)


@router.post("/logout", status_code=204, responses=responses(401))
async def sign_out(
    accounts: AccountsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Response:
    """Revoke the bearer token sent with this request; it is refused from then on."""
    if credentials is None or not await accounts.sign_out(credentials.credentials):
        raise Problem(
            401,
            "send the token to revoke as Authorization: Bearer <token>",
            slug="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Response(status_code=204)
