"""While an incident is going on, the status page refreshes its live parts by itself (static/js/
live.js, allowed by the page's Content-Security-Policy only then); a calm page runs no script."""

from playwright.sync_api import expect

from incidents import views
from incidents.models import Incident
from status.models import Component


def test_an_active_incident_page_shows_a_new_status_without_a_reload(tab, tenant_a, monkeypatch):
    monkeypatch.setattr(views, "LIVE_REFRESH_SECONDS", 1)
    api = Component.objects.get(page=tenant_a.page, name="API")
    Incident.declare(
        tenant_a.page,
        name="Elevated errors",
        body="Looking.",
        component_statuses={api: "degraded_performance"},
    )
    tab.goto("/p/alpha/")
    expect(tab.locator(".component", has_text="API")).to_contain_text("Degraded performance")
    tab.evaluate("window.notReloaded = true")

    api.set_status("major_outage")

    expect(tab.locator(".component", has_text="API")).to_contain_text("Major outage", timeout=8000)
    expect(tab.get_by_text("Major system outage")).to_be_visible()
    assert tab.evaluate("window.notReloaded") is True


def test_a_calm_page_loads_no_script(tab, tenant_a):
    tab.goto("/p/alpha/")
    assert tab.locator("script").count() == 0
