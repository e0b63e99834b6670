"""Browser tests: real Chromium (Debian's) driven by Playwright against pytest-django's live server.

The live server runs in threads of this process, so fixtures that patch the provider registry (the fake
card gateway) apply to it too. Playwright's sync API runs an event loop in the test thread, which Django
would otherwise refuse to do database work from.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

from demo.seed import seed_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":  # CI installs it: a missing browser must not pass as a skip
            pytest.fail("Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server) -> Iterator[BrowserContext]:  # noqa: ANN001
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def seeded(transactional_db) -> None:  # noqa: ANN001
    seed_demo()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:").fill(password)
    page.get_by_role("button", name="Log in").click()
