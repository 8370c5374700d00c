"""Browser test fixtures: Playwright driving Debian's headless Chromium against pytest-django's ``live_server``.

Every test under ``tests/e2e/`` is marked ``e2e`` (``pytest -m "not e2e"`` leaves them out). Outside CI a machine
without ``/usr/bin/chromium`` skips them; under CI (env ``CI`` set) a missing Chromium is an error, so browser tests
can never silently stop running. Browsers are never downloaded: Playwright is pointed at the system Chromium.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in the test thread; Django's ORM would otherwise refuse to run
# synchronous queries from it (SynchronousOnlyOperation) in fixtures and test bodies.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000
E2E_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = E2E_DIR.parents[1] / "var" / "screenshots"


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end browser test (Playwright + headless Chromium)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, not only this directory's: mark only ours.
    skip = None
    if not CHROMIUM.exists() and not _running_in_ci():
        skip = pytest.mark.skip(
            reason=f"{CHROMIUM} not found (Debian package 'chromium'; scripts/setup.sh test installs it)"
        )
    for item in items:
        if E2E_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if skip is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found; install Debian's 'chromium' package (scripts/setup.sh test does)"
        if _running_in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    """A fresh browser context (no cookies, no storage) per test, with ``base_url`` set to the live server,
    so tests can write ``page.goto("/vaults/")``."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(page, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """Save a PNG of the current page under ``var/screenshots/<test name>.png`` and return its path.

    ``screenshot()`` uses the test's name; ``screenshot("after-restore")`` appends a suffix for a second picture.
    """

    def take(suffix: str = "", *, full_page: bool = True) -> Path:
        name = request.node.name + (f"-{suffix}" if suffix else "")
        path = SCREENSHOT_DIR / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
