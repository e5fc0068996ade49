"""axe-core (axe-playwright-python) on every kind of public page and every console page, light
and dark, at 1,280 and 375 px: zero violations of WCAG 2.1 A and AA.

The console pages are read from the URLconf through the cross-tenant matrix
(tests/console/test_tenant_matrix.py), so a new console page is checked here as soon as it
exists. A failure lists each violation with the page, the rule and the elements it names.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe

from incidents.models import Incident
from notifications.models import Subscriber
from tests.browser.helpers import sign_in
from tests.console.test_tenant_matrix import CONSOLE, PAGE_ROUTES, ROUTES, make_objects, url_for
from tests.factories import make_subscriber

WCAG_21_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
VIEWPORTS = {"wide": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
SCHEMES = ["light", "dark"]

axe = Axe()


def console_pages(objects):
    """Every console page a member reads (GET), for tenant A's objects (downloads such as the
    subscribers' CSV are not pages)."""
    pages = [
        url_for(name, objects)
        for name in PAGE_ROUTES
        if not ROUTES[name].post_only and "." not in CONSOLE[name]
    ]
    return ["/manage/", *pages]


def public_pages(page, objects):
    """One of each kind of public page, and the pages of accounts."""
    maintenance = objects.maintenance
    subscriber = Subscriber.objects.filter(page=page, channel="email").first() or (
        make_subscriber(page, "reader@example.com")
    )
    return [
        "/p/alpha/",
        f"/p/alpha/incidents/{objects.incident.code}/",
        f"/p/alpha/incidents/{maintenance.code}/",
        "/p/alpha/history/",
        "/p/alpha/subscribe/",
        f"/p/alpha/subscribe/manage/{subscriber.token}/",
        f"/p/alpha/subscribe/unsubscribe/{subscriber.token}/",
        "/p/alpha/embed/",
        "/p/alpha/no-such-page/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
    ]


def violations_on(tab, path):
    response = tab.goto(path)
    assert response is not None and response.status < 500, (path, response and response.status)
    results = axe.run(tab, options=WCAG_21_AA)
    found = []
    for violation in results.response["violations"]:
        targets = [" ".join(node["target"]) for node in violation["nodes"]][:5]
        found.append(f"{path}: {violation['id']} ({violation['impact']}): {targets}")
    return found


@pytest.fixture
def objects(tenant_a):
    made = make_objects(tenant_a)
    # An ongoing incident, so the status page shows its incident parts too.
    Incident.declare(
        tenant_a.page,
        name="Elevated error rates",
        body="We are **looking** into it: https://example.com/details",
        component_statuses={tenant_a.page.components.get(name="API"): "partial_outage"},
    )
    return made


def check(browser, live_server, settings, owner_a, tenant_a, objects, scheme, viewport):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    found = []
    for signed_in in (False, True):
        context = browser.new_context(
            base_url=live_server.url, viewport=VIEWPORTS[viewport], color_scheme=scheme
        )
        context.set_default_timeout(15_000)
        tab = context.new_page()
        if signed_in:
            sign_in(tab, owner_a.username)
            paths = console_pages(objects)
        else:
            paths = public_pages(tenant_a.page, objects)
        for path in paths:
            found += violations_on(tab, path)
        context.close()
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_page_has_no_wcag_21_aa_violation(
    browser, live_server, settings, owner_a, tenant_a, objects, scheme, viewport
):
    found = check(browser, live_server, settings, owner_a, tenant_a, objects, scheme, viewport)
    assert found == [], "\n".join(found)
    # The walk covered the console (a URLconf change that emptied it would prove nothing).
    assert len(console_pages(objects)) >= 20 and len(CONSOLE) >= 20


def test_the_check_reports_a_violation_when_there_is_one(tab):
    """The harness itself: a page with an image without text and low-contrast text fails."""
    tab.goto("/accounts/login/")
    tab.evaluate(
        """() => {
            const image = document.createElement("img");
            image.src = "/static/favicon.svg";
            document.querySelector("main, body").prepend(image);
            const faint = document.createElement("p");
            faint.textContent = "Barely there";
            faint.style.color = "#eeeeee";
            faint.style.background = "#ffffff";
            document.querySelector("main, body").prepend(faint);
        }"""
    )
    results = axe.run(tab, options=WCAG_21_AA)
    rules = {violation["id"] for violation in results.response["violations"]}
    assert {"image-alt", "color-contrast"} <= rules
