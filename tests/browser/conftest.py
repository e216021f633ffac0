"""Browser tests: Debian's chromium driven by Playwright (no browser download).

Skipped, with the reason printed by `make test`, when /usr/bin/chromium is
absent; `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make around it are synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module", autouse=True)
def _flush_may_purge_audit() -> Iterator[None]:
    """Transactional tests end with a flush, which deletes audit rows: on SQLite
    the append-only trigger lets it through only while a purge is allowed. The
    fixture is module-scoped so that it outlives each test's flush."""
    from permanence.audit import models

    models._purge_allowed = True
    yield
    models._purge_allowed = False


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    context = chromium.new_context(base_url=live_server.url, locale="fr-FR",
                                   viewport={"width": 1366, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page: Any, expression: str, timeout: float = 10_000) -> None:
    """What ``page.wait_for_function(expression)`` does, without its eval() inside the page, which the
    Content Security Policy refuses (no 'unsafe-eval' in script-src): the expression is polled through
    DevTools, which the policy does not govern. A navigation in between counts as not yet."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    last: Exception | None = None
    while True:
        try:
            if page.evaluate(expression):
                return
        except Error as error:  # the page went away (navigation) or the expression failed: not yet
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression} ({last})")
        page.wait_for_timeout(50)


def sign_in(page: Any, username: str) -> None:
    """Sign in through the French sign-in page with the test password."""
    from factories import PASSWORD

    page.goto("/login/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


@pytest.fixture
def second_page(chromium: Any, live_server: Any) -> Iterator[Any]:
    """Another browser, for a second person signed in at the same time."""
    context = chromium.new_context(base_url=live_server.url, locale="fr-FR",
                                   viewport={"width": 1366, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
