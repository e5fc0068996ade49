from playwright.sync_api import expect

from status.models import Component


def test_the_status_page_shows_components_and_a_changed_status(tab, tenant_a):
    tab.goto("/p/alpha/")
    expect(tab.get_by_text("All systems operational")).to_be_visible()
    expect(tab.locator(".component", has_text="API")).to_contain_text("Operational")

    Component.objects.get(page=tenant_a.page, name="API").set_status("major_outage")
    tab.reload()
    expect(tab.get_by_text("Major system outage")).to_be_visible()
    expect(tab.locator(".component", has_text="API")).to_contain_text("Major outage")
    assert tab.locator(".component", has_text="API").locator(".uptime-days > li").count() == 90
