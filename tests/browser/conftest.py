"""Browser tests: Playwright driving Debian's chromium against a live server.

`tab` is a fresh browser context (its own cookies) on the live server; `sign_in(tab, username)`
signs in through the login form. Set SCREENSHOTS=<directory> to have `shot(tab, name)` save
full-page screenshots there (for a human to look at; nothing checks them).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without these, chromium tries to reach Google's services at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    from tests.conftest import need

    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        need(f"chromium at {CHROMIUM} (make test installs Debian's package)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make
    # from it are synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def tab(browser, live_server, settings):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    # Script errors (an htmx swap gone wrong) fail no click by themselves: tests look here.
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def visitor(browser, live_server):
    """`visitor(path)`: a page as a first-time visitor sees it, in a new context each time.

    Public pages are sent with max-age=30, so a tab that saw one before shows its cached copy.
    """
    contexts = []

    def visit(path):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(path)
        return page

    yield visit
    for context in contexts:
        context.close()


def sign_in(tab, username, password="correct horse battery"):
    tab.goto("/accounts/login/")
    tab.get_by_label("Email or username").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/manage/**")


def csrf_token(tab):
    """The CSRF cookie of the tab's context, as a script on the page could read it."""
    cookies = {cookie["name"]: cookie["value"] for cookie in tab.context.cookies()}
    return cookies["csrftoken"]


def shot(tab, name):
    """A full-page screenshot in $SCREENSHOTS/<name>.png, when SCREENSHOTS is set."""
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "-", name)
        tab.screenshot(path=str(Path(directory) / f"{safe}.png"), full_page=True)
