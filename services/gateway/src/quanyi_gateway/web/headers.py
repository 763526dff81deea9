"""Security headers on every web response (pages, fragments, static files).

The Content-Security-Policy allows scripts, styles, images and requests from the gateway's own origin only:
no inline script or style, no eval, no CDN, no framing. The JSON API (/v1), its documentation (Swagger UI
and ReDoc need inline script) and the simulators are left as they are.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
NOT_WEB = ("/v1/", "/docs", "/redoc", "/openapi.json", "/psp-sim/", "/healthz", "/readyz")


class SecurityHeaders:
    """Pure ASGI middleware adding the CSP and its companions to every response outside NOT_WEB."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_WEB):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()), *(h for h in _HEADERS if h[0] not in names)
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
