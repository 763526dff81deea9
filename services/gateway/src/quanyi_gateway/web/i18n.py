"""The pages' words in Simplified Chinese (the default) and English.

Catalogues are JSON files, web/locales/<lang>/<area>.json (storefront.json, backoffice.json, ...), merged
per language at start; each area's file belongs to the pages that use it, so areas never edit one file.
Every id must exist in every language (tests/unit/test_web_i18n.py checks it). Placeholders use
str.format: "{n} in stock".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request

from quanyi_gateway.web.session import LANG_COOKIE

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "zh-CN"
# Each language's name in itself, for the switcher.
LANGUAGES = {"zh-CN": "简体中文", "en": "English"}

Translate = Callable[..., str]


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message id of a language, from all its area files."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        area: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        messages.update(area)
    return messages


def translator(lang: str) -> Translate:
    """t(message_id, **values): the message in `lang` (else in the default language, else the id)."""
    own, fallback = catalogue(lang), catalogue(DEFAULT_LANGUAGE)

    def t(message_id: str, /, **values: object) -> str:
        text = own.get(message_id) or fallback.get(message_id) or message_id
        return text.format(**values) if values else text

    return t


def language(request: Request) -> str:
    """The language chosen by the browser's cookie; else the default (Simplified Chinese)."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE
