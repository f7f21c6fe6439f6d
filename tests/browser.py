"""Debian's chromium driven by Playwright, for the page tests.

    sync_api = require_chromium()           # at a page-test module's top: skips it without chromium/playwright
    def test_x(browser, site):              # `browser`: conftest's module-scoped fixture (launch_chromium)
        page, js_errors = open_page(browser, site)
        wait_until(page, "document.querySelector('#clip').currentTime > 1")   # not page.wait_for_function (CSP)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
TIMEOUT_MS = 15_000


def require_chromium():
    """Skip the calling module unless /usr/bin/chromium and playwright are here; return playwright.sync_api."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")


@contextmanager
def launch_chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(browser, site: str, **options):
    """A fresh context (downloads on, 1440x1000, zh-CN, Asia/Shanghai; `options` override or add to
    these, e.g. a phone's viewport) at `site`; returns the page and the list its JavaScript errors are
    collected in."""
    ctx = browser.new_context(**{
        "accept_downloads": True, "viewport": {"width": 1440, "height": 1000}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
        **options,
    })
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site)
    return page, errors


def wait_until(page, expression: str, timeout: float = TIMEOUT_MS):
    """Poll a JavaScript expression (page.evaluate) until it is truthy; its value, or TimeoutError
    after ``timeout`` ms. Not page.wait_for_function: that polls by evaluating the string inside the
    page later on, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + timeout / 1000
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:.0f} ms: {expression}")
        page.wait_for_timeout(50)
    return value
