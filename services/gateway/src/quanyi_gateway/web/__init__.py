"""The web: server-rendered pages (Jinja2) for buyers and operators, served by the gateway.

Pages call the same use cases as the JSON routes (`Resources`), translate forms into their commands and
their answers into templates; they decide nothing. See docs/ENGINEERING.md, "The web".
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from quanyi_gateway.config import Settings
from quanyi_gateway.web import errors
from quanyi_gateway.web.render import STATIC_DIR, Web
from quanyi_gateway.web.routes import (
    account,
    backoffice,
    backoffice_coupons,
    backoffice_stock,
    delivery_targets,
    live,
    storefront,
)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the web pages, their static files (under /static) and their HTML error pages."""
    app.state.web = Web(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (storefront, live, account, delivery_targets, backoffice, backoffice_coupons,
                   backoffice_stock):
        app.include_router(module.router)
    errors.install(app)
