"""The Content-Security-Policy in a real browser: the public pages, the console (with htmx at
work), the admin and the API docs load without the policy refusing anything, and only the
widget may be framed by another site. Every browser test also fails on a refusal
(tests/browser/conftest.py), so these visit what the others do not."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from status.models import Component
from tests.browser.helpers import sign_in
from tests.factories import PASSWORD, make_user


def console_url(tenant, path=""):
    return f"/manage/{tenant.page.code}/{path}"


def test_public_pages_load_without_scripts_or_refusals(visitor, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    incident = Incident.declare(
        tenant_a.page, name="API errors", body="We are **on it**.",
        component_statuses={api: "partial_outage"},
    )  # fmt: skip

    pages = {
        "/p/alpha/": "API errors",
        f"/p/alpha/incidents/{incident.code}/": "We are on it.",
        "/p/alpha/history/": "API errors",
        "/p/alpha/subscribe/": "All of Core",
        "/p/alpha/embed/": "API errors",
    }
    for path, text in pages.items():
        public = visitor(path)
        expect(public.get_by_text(text).first).to_be_visible()
        scripts = public.evaluate("[...document.scripts].map((s) => new URL(s.src).pathname)")
        # The incident is going on: the status page, only it, refreshes itself with our script.
        assert scripts == (["/static/js/live.js"] if path == "/p/alpha/" else []), path
        assert public.policy_violations == [], path


def test_the_console_works_with_htmx_under_the_policy(tab, visitor, tenant_a):
    sign_in(tab, "a-owner")
    tab.goto(console_url(tenant_a))
    assert tab.evaluate("[htmx.config.allowEval, htmx.config.includeIndicatorStyles]") == [
        False,
        False,
    ]
    # htmx injected no <style> element of its own.
    assert tab.evaluate("document.querySelectorAll('style').length") == 0

    api = Component.objects.get(page=tenant_a.page, name="API")
    with tab.expect_response(lambda response: response.url.endswith("/status/")) as swapped:
        tab.get_by_label("Status of API").select_option(label="Major outage")
    assert swapped.value.request.headers.get("hx-request") == "true"
    expect(tab.locator(f"#component-status-{api.code}")).to_be_visible()
    expect(visitor("/p/alpha/").locator(".banner")).to_have_text("Major system outage")

    for path in [
        "components/", "incidents/new/", "maintenance/", "templates/", "subscribers/",
        "deliveries/", "team/", "api-keys/", "audit/", "settings/",
    ]:  # fmt: skip
        tab.goto(console_url(tenant_a, path))
        expect(tab.locator(".console-main h1")).to_be_visible()
    # The accent colour swatch is drawn without a style attribute.
    tab.goto(console_url(tenant_a, "settings/"))
    assert tab.locator("[style]").count() == 0
    assert tab.js_errors == []
    assert tab.policy_violations == []


def test_the_admin_works_under_the_policy(tab, tenant_a):
    staff = make_user("operator")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    tab.goto("/admin/login/")
    tab.get_by_label("Username").fill("operator")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.get_by_role("heading", name="Site administration")).to_be_visible()
    tab.goto("/admin/status/page/")
    tab.get_by_role("link", name="Alpha").first.click()
    expect(tab.locator("#page_form")).to_be_visible()
    assert tab.js_errors == []
    assert tab.policy_violations == []


def test_the_api_docs_render_under_the_policy(tab, db):
    tab.goto("/api/v1/docs/")

    # Swagger UI ran (our static files) and drew the operations from the schema it fetched.
    expect(tab.locator(".swagger-ui .info .title")).to_contain_text("management API")
    expect(tab.locator(".opblock").first).to_be_visible()
    assert tab.js_errors == []
    assert tab.policy_violations == []


@pytest.fixture
def customer_site(live_server):
    """Another site (another origin, on 127.0.0.1) whose page frames our widget and our status
    page, as a customer's would."""
    html = (
        "<!doctype html><title>Customer</title>"
        f'<iframe id="widget" src="{live_server.url}/p/alpha/embed/"></iframe>'
        f'<iframe id="page" src="{live_server.url}/p/alpha/"></iframe>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_only_the_widget_can_be_framed_by_another_site(tab, tenant_a, customer_site):
    tab.goto(customer_site)

    widget = tab.frame_locator("#widget")
    expect(widget.get_by_text("All systems operational", exact=False)).to_be_visible()
    # The status page itself refuses to be framed (clickjacking): nothing of it is shown.
    for _ in range(50):
        if tab.policy_violations:
            break
        tab.wait_for_timeout(100)
    expect(tab.frame_locator("#page").locator(".banner")).to_have_count(0)
    # Refused by the policy (chromium reports it on the framing page), and nothing else was.
    assert tab.policy_violations, "the status page was framed"
    assert all("frame-ancestors 'none'" in text for text in tab.policy_violations), (
        tab.policy_violations
    )
    tab.policy_violations.clear()
