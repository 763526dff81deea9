"""The web's errors as pages: sign-in redirects and error pages in the reader's language."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from quanyi_gateway.web.render import page
from quanyi_gateway.web.session import LoginRequired, WebError, session_user


def install(app: FastAPI) -> None:
    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    async def on_web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        user = await session_user(request)
        return page(
            request, "error.html", user, status_code=exc.status, headers=headers,
            status=exc.status, message_id=exc.message_id, detail=exc.detail,
        )

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(WebError, on_web_error)
