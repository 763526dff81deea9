"""Dependencies of the routes, as `Annotated[..., Depends()]` aliases.

Every dependency is `async def`, even where it does no I/O: FastAPI runs a plain `def` dependency in a
worker thread, and those hops were a third of the gateway's CPU under load.
"""

from __future__ import annotations

import email.message
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from quanyi_gateway.adapters.catalogue_cache import CachedCatalogue
from quanyi_gateway.adapters.inventory_feed import InventoryFeed
from quanyi_gateway.adapters.peers import Peers
from quanyi_gateway.api.problems import Problem
from quanyi_gateway.application.accounts import Accounts
from quanyi_gateway.application.checkout import Checkout
from quanyi_gateway.application.idempotency import Idempotency
from quanyi_gateway.application.keys import MyKeys
from quanyi_gateway.application.limits import Action, Limits
from quanyi_gateway.application.model import User
from quanyi_gateway.application.orders import OrderQueries
from quanyi_gateway.application.ports import Catalogue, PartnerScopes
from quanyi_gateway.application.redemptions import Redemptions
from quanyi_gateway.application.roles import Permission, roles_allowed
from quanyi_gateway.config import Settings

MAX_IDEMPOTENCY_KEY = 128
_MAX_TOKEN_CHARS = 2048


@dataclass
class Resources:
    """What the lifespan opens and the routes use: the use cases, the pool and peers' clients (for probes
    and the administration's pass-through calls), the simulator's parts."""

    settings: Settings
    pool: AsyncConnectionPool
    peers: Peers
    accounts: Accounts
    catalogue: CachedCatalogue
    feed: InventoryFeed
    checkout: Checkout
    orders: OrderQueries
    keys: MyKeys
    redemptions: Redemptions
    idempotency: Idempotency
    limits: Limits
    partner_scopes: PartnerScopes
    psp_key: RSAPrivateKey | None = None
    psp_http: aiohttp.ClientSession | None = None


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def get_resources(request: Request) -> Resources:
    return _resources(request)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_peers(request: Request) -> Peers:
    return _resources(request).peers


async def get_accounts(request: Request) -> Accounts:
    return _resources(request).accounts


async def get_catalogue(request: Request) -> Catalogue:
    return _resources(request).catalogue


async def get_checkout(request: Request) -> Checkout:
    return _resources(request).checkout


async def get_order_queries(request: Request) -> OrderQueries:
    return _resources(request).orders


async def get_my_keys(request: Request) -> MyKeys:
    return _resources(request).keys


async def get_redemptions(request: Request) -> Redemptions:
    return _resources(request).redemptions


async def get_idempotency(request: Request) -> Idempotency:
    return _resources(request).idempotency


async def get_limits(request: Request) -> Limits:
    return _resources(request).limits


async def get_partner_scopes(request: Request) -> PartnerScopes:
    return _resources(request).partner_scopes


PeersDep = Annotated[Peers, Depends(get_peers)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
CheckoutDep = Annotated[Checkout, Depends(get_checkout)]
OrderQueriesDep = Annotated[OrderQueries, Depends(get_order_queries)]
MyKeysDep = Annotated[MyKeys, Depends(get_my_keys)]
RedemptionsDep = Annotated[Redemptions, Depends(get_redemptions)]
IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
PartnerScopesDep = Annotated[PartnerScopes, Depends(get_partner_scopes)]

bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/auth/token.")


async def get_current_user(
    accounts: AccountsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    if credentials is None:
        raise Problem(
            401,
            "send Authorization: Bearer <token> (from POST /v1/auth/token)",
            slug="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    # Signature and revocation checks only: no database round trip per request.
    user = accounts.authenticate(token) if len(token) <= _MAX_TOKEN_CHARS else None
    if user is None:
        raise Problem(
            401,
            "the token is invalid or has expired",
            slug="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_admin(user: CurrentUser) -> User:
    """An operator of any role; a buyer gets 403. Each admin route also names its permission (Allowed)."""
    if not user.is_operator:
        raise Problem(403, "this operation needs an operator's role", slug="forbidden")
    return user


AdminUser = Annotated[User, Depends(get_current_admin)]


def ensure_allowed(user: User, permission: Permission) -> None:
    """403 unless the user's role holds the permission (for a check that depends on the request's input,
    like an export that asks for codes)."""
    if not user.can(permission):
        raise Problem(
            403,
            f"this operation needs the {permission.value} permission"
            f" (roles: {', '.join(roles_allowed(permission))})",
            slug="forbidden",
        )


def Allowed(permission: Permission, *alternatives: Permission) -> Any:
    """A route's dependency: the signed-in operator's role holds `permission` (or one of `alternatives`,
    where the request's input says which it needs: the route checks that one too), else 403; 401 without
    a token. Every admin route names one; the role table test covers each route and role."""

    async def check(user: AdminUser) -> None:
        if not any(user.can(p) for p in alternatives):
            ensure_allowed(user, permission)

    return Depends(check)


def _is_json(content_type: str) -> bool:
    if content_type.startswith("application/json") and content_type[16:17] in ("", ";", " "):
        return True  # the common case, without parsing the header
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def require_json(request: Request) -> None:
    """415 for a request body that is not declared as JSON (runs before the body is validated)."""
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if not has_body:
        return
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise Problem(415, "send the request body as application/json", slug="unsupported-media-type")


JsonBody = Depends(require_json)


async def get_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            description="A client-chosen key, 1 to 128 printable ASCII characters; a retry with the same "
            "key and body returns the same response for 24 hours."
        ),
    ] = None,
) -> str:
    if idempotency_key is None or not idempotency_key.strip():
        raise Problem(400, "the Idempotency-Key header is required", slug="idempotency-key-required")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise Problem(
            400, "the Idempotency-Key header is longer than 128 characters", slug="idempotency-key-invalid"
        )
    if not (idempotency_key.isascii() and idempotency_key.isprintable()):
        raise Problem(
            400,
            "the Idempotency-Key header must be printable ASCII characters",
            slug="idempotency-key-invalid",
        )
    return idempotency_key


IdempotencyKey = Annotated[str, Depends(get_idempotency_key)]


def client_ip(request: Request) -> str | None:
    """The caller's IP address as the server sees it (behind a proxy, what uvicorn's forwarded_allow_ips
    lets it take from X-Forwarded-For)."""
    return request.client.host if request.client is not None else None


def rate_limited(action: Action) -> Any:
    """A dependency counting the request against `action`'s limits for the signed-in buyer and their IP
    address; past them, 429 + Retry-After (raised as limits.RateLimited)."""

    async def check(request: Request, user: CurrentUser) -> None:
        await _resources(request).limits.check(
            action, ip=client_ip(request), account=str(user.user_id), buyer_id=str(user.user_id)
        )

    return Depends(check)


async def require_dev_credential(
    settings: SettingsDep,
    x_dev_credential: Annotated[
        str | None, Header(description="The development credential (QUANYI_DEV_CREDENTIAL).")
    ] = None,
) -> None:
    """The simulators answer only a caller holding the development credential."""
    expected = settings.dev_credential.get_secret_value().encode()
    given = (x_dev_credential or "").encode("utf-8", "replace")
    if not expected or not hmac.compare_digest(given, expected):
        raise Problem(
            401,
            "the simulators need the development credential in X-Dev-Credential",
            slug="dev-credential-required",
        )


DevCredential = Depends(require_dev_credential)
