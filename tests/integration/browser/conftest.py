"""Browser tests: headless Chromium (Debian's `chromium`, `make test` installs it) driven by Playwright,
against the end-to-end stack of tests/integration (this directory shares it: one stack fewer, and the
invariant checks that run after every flow see these orders too).

Each test ends with `shot(page, name)`: a full-page screenshot under .artifacts/browser/ (gitignored).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright
from quanyi_cli.stack import Stack

ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "browser"
CHROMIUM = os.environ.get("QUANYI_CHROMIUM", "/usr/bin/chromium")
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=900)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` (a step of `make test`) installs it")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # Chromium refuses its sandbox as root (CI runs as root); the pages are our own.
        b = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        await b.close()


async def new_context(browser: Browser, stack: Stack, *, phone: bool = False) -> BrowserContext:
    context = await browser.new_context(
        base_url=stack.config.gateway_url,
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
        locale="zh-CN",
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
async def context(browser: Browser, stack: Stack) -> AsyncIterator[BrowserContext]:
    ctx = await new_context(browser, stack)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    p = await context.new_page()
    errors: list[str] = []
    # Any script error or CSP violation is a failure: the pages have no inline script to be refused.
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    assert not errors, errors


async def shot(page: Page, name: str) -> Path:
    """Save the test's last step as a screenshot artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
