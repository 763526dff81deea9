"""The web's pure parts: catalogues in both languages, the CSRF token, cookie flags, formatting, charts."""

from __future__ import annotations

import re
import string

import pytest
from fastapi.responses import Response
from quanyi_gateway.application.model import Money
from quanyi_gateway.config import Settings
from quanyi_gateway.web import charts, i18n
from quanyi_gateway.web.render import STATIC_DIR, money, when
from quanyi_gateway.web.session import Cookies, Csrf, new_nonce, safe_next

REAL = {
    "admin_password": "a-real-password",
    "partner_secrets": {"acme": "real-secret"},
    "token_secret": "a-real-token-secret-of-32-bytes-or-more",
    "kafka_enable_idempotence": True,
}


def test_every_message_exists_in_both_languages_and_chinese_is_the_default() -> None:
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    assert zh and set(zh) == set(en), sorted(set(zh) ^ set(en))
    assert i18n.DEFAULT_LANGUAGE == "zh-CN"
    for message_id, text in zh.items():  # the same placeholders in both
        assert sorted(_fields(text)) == sorted(_fields(en[message_id])), message_id


def _fields(text: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def test_a_missing_translation_falls_back_to_chinese_then_to_the_id() -> None:
    t = i18n.translator("en")
    assert t("catalogue.in_stock", n=3) == "3 in stock"
    assert t("no.such.message") == "no.such.message"


def test_a_csrf_token_is_good_only_for_the_nonce_it_signs_and_only_with_the_secret() -> None:
    csrf = Csrf("a-secret-of-the-gateway-32-bytes-long")
    nonce = new_nonce()
    token = csrf.token(nonce)
    assert csrf.valid(token, nonce)
    assert not csrf.valid(token, new_nonce())
    assert not csrf.valid("", nonce) and not csrf.valid(token, "")
    assert not csrf.valid(Csrf("another-secret-that-is-32-bytes-long").token(nonce), nonce)
    assert not csrf.valid(token[:-2] + "xx", nonce)


@pytest.mark.parametrize(
    ("environment", "secure"), [("development", False), ("test", False), ("production", True)]
)
def test_session_cookies_are_httponly_samesite_and_secure_outside_development(
    environment: str, secure: bool
) -> None:
    settings = Settings(environment=environment, **(REAL if environment == "production" else {}))
    response = Response()
    cookies = Cookies(settings)
    cookies.set_session(response, "token", 60)
    cookies.set_csrf_nonce(response, "nonce")
    for header in response.headers.getlist("set-cookie"):
        assert "HttpOnly" in header and "SameSite=lax" in header, header
        assert ("Secure" in header) is secure, header


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/me", "/me"), ("/orders/1?x=2", "/orders/1?x=2"), ("https://evil.example/", "/"),
     ("//evil.example/", "/"), ("/\\evil.example", "/"), ("", "/"), (None, "/")],
)
def test_going_back_after_a_form_stays_on_this_site(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


def test_money_is_shown_from_minor_units_without_floats() -> None:
    assert money(Money(1990, "CNY")) == "¥19.90"
    assert money(Money(123456789, "CNY")) == "¥1,234,567.89"
    assert money({"amount_minor": -5, "currency": "JPY"}) == "-0.05 JPY"
    assert when("2026-12-01T08:30:00+00:00") == "2026-12-01 08:30 UTC"


def test_a_chart_is_an_accessible_svg_with_its_figures_in_words() -> None:
    svg = charts.line_chart(
        "Sales <by day>",
        [charts.Series("web", [("12-01", 1990), ("12-02", 3980)]), charts.Series("tmall", [("12-02", 10)])],
        label=lambda v: money(Money(int(v), "CNY")),
    )
    assert svg.startswith('<figure class="chart-figure"><svg') and 'role="img"' in svg
    assert "Sales &lt;by day&gt;" in svg and "12-02 ¥39.80" in svg
    assert "style=" not in svg and "<script" not in svg
    bars = charts.bar_chart("Refunds", [("a", 0), ("b", 5)])
    assert bars.count("<rect") == 2


def _colours() -> dict[str, str]:
    css = (STATIC_DIR / "app.css").read_text()
    root = css[css.index(":root {"):css.index("}", css.index(":root {"))]
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})", root))


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("ink", "paper"), ("ink", "wash"), ("muted", "paper"), ("muted", "wash"), ("brand", "paper"),
        ("brand", "wash"), ("ok", "ok-wash"), ("warn", "warn-wash"), ("bad", "bad-wash"), ("ok", "paper"),
        ("bad", "paper"), ("#ffffff", "brand"), ("#ffffff", "brand-dark"),
    ],
)
def test_text_colours_meet_wcag_aa_on_their_backgrounds(text: str, background: str) -> None:
    colours = _colours()
    fg = text if text.startswith("#") else colours[text]
    assert _contrast(fg, colours[background]) >= 4.5, (text, background)


def test_the_focus_ring_and_chart_series_stand_out_from_the_page() -> None:
    colours = _colours()
    for name in ("focus", "series-0", "series-1", "series-2", "series-3"):
        assert _contrast(colours[name], colours["paper"]) >= 3, name  # non-text contrast (1.4.11)
