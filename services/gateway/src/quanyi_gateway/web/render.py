"""Rendering pages: one Jinja2 environment (autoescaped), the context every page gets, and the response."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from quanyi_gateway.application.model import Money, User
from quanyi_gateway.config import Settings
from quanyi_gateway.web import i18n
from quanyi_gateway.web.session import CSRF_FIELD, Cookies, Csrf, csrf_nonce

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$"}


def money(value: Money | Mapping[str, Any] | None) -> str:
    """Integer minor units as text, "¥19.90" (two decimals; integer arithmetic, no float)."""
    if value is None:
        return ""
    if isinstance(value, Money):
        amount, currency = value.amount_minor, value.currency
    else:
        amount, currency = int(value["amount_minor"]), str(value["currency"])
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    symbol = _SYMBOLS.get(currency)
    text = f"{whole:,}.{cents:02d}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def when(value: str | datetime | None) -> str:
    """An RFC 3339 time (or datetime) as "2026-12-01 08:30 UTC"; empty for none."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    """A datetime as its UTC date, "2026-12-01"; empty for none."""
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else ""


class Web:
    """The web's state, made once per application: templates, the CSRF signer, cookie flags."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.csrf = Csrf(settings.token_secret.get_secret_value())
        self.cookies = Cookies(settings)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = money
        self.env.filters["when"] = when
        self.env.filters["day"] = day
        self.env.globals["static"] = self.static_url
        self.env.globals["languages"] = i18n.LANGUAGES
        self._versions: dict[str, str] = {}

    def static_url(self, path: str) -> str:
        """/static/<path>?v=<content hash>: browsers may cache it for good, a changed file is a new URL."""
        version = self._versions.get(path)
        if version is None:
            version = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]
            self._versions[path] = version
        return f"/static/{path}?v={version}"


def web(request: Request) -> Web:
    state: Web = request.app.state.web
    return state


def page(
    request: Request,
    template: str,
    user: User | None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page (or a fragment) with what every template may use:
    t (translate), lang, user, csrf_token / csrf_field, dev (development environment), simulators, now
    (UTC), request, path."""
    w = web(request)
    lang = i18n.language(request)
    nonce = csrf_nonce(request)
    html = w.env.get_template(template).render(
        request=request,
        path=request.url.path,
        t=i18n.translator(lang),
        lang=lang,
        user=user,
        csrf_token=w.csrf.token(nonce),
        csrf_field=CSRF_FIELD,
        dev=w.settings.is_development,
        simulators=w.settings.simulators_active,
        now=datetime.now(UTC),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    if user is not None:
        # Signed-in pages are nobody else's: never stored by a shared cache or the back button's disk.
        response.headers["Cache-Control"] = "no-store"
    if getattr(request.state, "new_csrf_nonce", False):
        w.cookies.set_csrf_nonce(response, nonce)
    return response
