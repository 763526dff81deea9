"""Who is signed in (a session cookie holding the gateway's own access token) and CSRF protection.

The session cookie carries the same signed access token `POST /v1/auth/token` issues, so sign-in, expiry and
revocation (sign-out) are the accounts use case's, unchanged. It is HttpOnly, SameSite=Lax, and Secure
outside development. The JSON API does not read it: only these pages do, and every state-changing page
request must carry a CSRF token.

CSRF: a signed double-submit token (itsdangerous). The browser holds a random nonce in an HttpOnly cookie;
pages carry the nonce signed with the gateway's secret (a form field, or the X-CSRF-Token header for a
script's request, read from <meta name="csrf-token">). A request is accepted when the token's signature is
valid and it signs the nonce of the cookie sent with it. Another site can neither read the page's token
nor make one for a nonce it planted, since it cannot sign.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from quanyi_gateway.application.model import User
from quanyi_gateway.config import Settings

SESSION_COOKIE = "qy_session"
CSRF_COOKIE = "qy_csrf"
LANG_COOKIE = "qy_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_CSRF_SALT = "quanyi.web.csrf"
_MAX_TOKEN_CHARS = 2048
_YEAR_S = 365 * 24 * 3600


class LoginRequired(Exception):
    """The page needs a signed-in user; the browser is sent to the sign-in page and back."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in")
        self.next_path = next_path


class WebError(Exception):
    """An error page: the status and a message id of the catalogue (web/locales); `detail`, when given, is
    a peer's reason shown beneath it as is (a refusal's, which is short and safe to show)."""

    def __init__(
        self, status: int, message_id: str, retry_after_s: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message_id)
        self.status = status
        self.message_id = message_id
        self.retry_after_s = retry_after_s
        self.detail = detail


class Csrf:
    """Signs and checks the double-submit token."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_CSRF_SALT)

    def token(self, nonce: str) -> str:
        return str(self._serializer.dumps(nonce))

    def valid(self, token: str, nonce: str) -> bool:
        if not token or not nonce or len(token) > _MAX_TOKEN_CHARS:
            return False
        try:
            signed = self._serializer.loads(token)
        except BadSignature:
            return False
        return isinstance(signed, str) and hmac.compare_digest(signed.encode(), nonce.encode())


class Cookies:
    """The web's cookies, with the flags the environment asks for."""

    def __init__(self, settings: Settings) -> None:
        self.secure = not settings.is_development
        self.session_ttl_s = settings.token_ttl_s

    def set_session(self, response: Response, token: str, ttl_s: int) -> None:
        response.set_cookie(
            SESSION_COOKIE, token, max_age=ttl_s, httponly=True, secure=self.secure, samesite="lax", path="/"
        )

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, httponly=True, secure=self.secure, samesite="lax", path="/")

    def set_csrf_nonce(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            CSRF_COOKIE, nonce, max_age=_YEAR_S, httponly=True, secure=self.secure, samesite="lax", path="/"
        )

    def set_language(self, response: Response, lang: str) -> None:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=_YEAR_S, httponly=True, secure=self.secure, samesite="lax", path="/"
        )


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def csrf_nonce(request: Request) -> str:
    """The browser's CSRF nonce; a new one (set on the response by `render.page`) when it has none."""
    nonce: str | None = getattr(request.state, "csrf_nonce", None)
    if nonce is None:
        nonce = request.cookies.get(CSRF_COOKIE) or ""
        if not (20 <= len(nonce) <= 100 and nonce.isascii()):
            nonce = new_nonce()
            request.state.new_csrf_nonce = True
        request.state.csrf_nonce = nonce
    return nonce


async def session_user(request: Request) -> User | None:
    """The signed-in user, or None (no cookie, or a token that is invalid, expired or revoked)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    user = request.app.state.resources.accounts.authenticate(token)
    return user if isinstance(user, User) else None


async def require_user(request: Request) -> User:
    user = await session_user(request)
    if user is None:
        # Back to this page after signing in; after a form, back to the page the form was on.
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        else:
            referer = urlsplit(request.headers.get("referer", ""))
            target = referer.path if referer.netloc == request.url.netloc else "/"
        raise LoginRequired(target)
    return user


async def require_admin(request: Request) -> User:
    """A signed-in operator; anyone else signed in gets 403 (a page, not a redirect)."""
    user = await require_user(request)
    if not user.is_admin:
        raise WebError(403, "error.forbidden")
    return user


async def csrf_protected(request: Request) -> None:
    """Refuse (403) a state-changing request without a valid CSRF token for the browser's nonce."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    nonce = request.cookies.get(CSRF_COOKIE) or ""
    if not request.app.state.web.csrf.valid(given or "", nonce):
        raise WebError(403, "error.csrf")


SessionUser = Annotated[User | None, Depends(session_user)]
WebUser = Annotated[User, Depends(require_user)]
WebAdmin = Annotated[User, Depends(require_admin)]
CsrfProtected = Depends(csrf_protected)


def safe_next(path: str | None, default: str = "/") -> str:
    """A local path to go back to after a form (never another site: no scheme, no '//', no backslash)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 512:
        return default
    return path if path.isprintable() else default
