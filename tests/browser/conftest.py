"""Browser tests: Playwright driving Debian's chromium against a live server.

`tab` is a fresh browser context (its own cookies) on the live server; `visitor(path)` a page as
a first-time visitor sees it. What tests do with them (sign in, screenshots) is in helpers.py.
Both collect what the Content-Security-Policy refused in `page.policy_violations`, and a test
whose pages had anything refused fails (a test expecting a refusal clears the list).
"""

import os
import shutil

import pytest

from tests.services import need

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


# Per module, not per session: while Playwright's sync API is open, an asyncio loop counts as
# running in this thread, so Django keeps this thread's database connections per context
# instead. A connection opened then outside a test (a module fixture of a later module) is one
# nothing closes, and the test database cannot be dropped at the end of the run.
@pytest.fixture(scope="module")
def browser():
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


# Run before any script of the page, outside its Content-Security-Policy (Playwright's own).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    window.reportPolicyViolation(
        `${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
        + ` in ${event.documentURI} (${event.sourceFile || ""}:${event.lineNumber})`
    );
});
"""


def watch_policy(context, page):
    """Collect in `page.policy_violations` what the Content-Security-Policy refused in this
    context: its `securitypolicyviolation` events and chromium's console reports."""
    page.policy_violations = violations = []
    context.expose_binding("reportPolicyViolation", lambda _source, text: violations.append(text))
    context.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )


@pytest.fixture
def tab(browser, live_server, settings):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    # Script errors (an htmx swap gone wrong) fail no click by themselves: tests look here.
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    # Whatever the test did, the policy refused nothing the product needs.
    watch_policy(context, page)
    yield page
    context.close()
    assert page.policy_violations == []


@pytest.fixture
def visitor(browser, live_server):
    """`visitor(path)`: a page as a first-time visitor sees it, in a new context each time.

    Its own context: no cookies, no session, nothing in the browser cache.
    """
    contexts = []

    def visit(path):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        watch_policy(context, page)
        contexts.append((context, page))
        page.goto(path)
        return page

    yield visit
    for context, _page in contexts:
        context.close()
    assert [page.policy_violations for _context, page in contexts if page.policy_violations] == []
