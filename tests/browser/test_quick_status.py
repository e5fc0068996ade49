"""Staff change a component's status in one click: subscribers are told only when asked, the
row says "Saved" and offers an Undo for 10 seconds; and the console's colours keep WCAG AA
contrast in light and dark mode."""

import pytest
from playwright.sync_api import expect

from notifications.models import NotificationEvent
from status.models import AuditLogEntry, Component
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


def console_url(tenant, path=""):
    return f"/manage/{tenant.page.code}/{path}"


def test_a_quick_change_says_saved_and_its_undo_goes_after_ten_seconds(tab, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    tab.clock.install()
    sign_in(tab, "a-editor")
    tab.goto(console_url(tenant_a))
    row = tab.locator(f"#component-status-{api.code}")
    expect(row.get_by_label("Notify subscribers of API")).not_to_be_checked()

    row.get_by_label("Status of API").select_option(label="Partial outage")
    expect(row.get_by_role("status")).to_contain_text("Saved")
    expect(row.get_by_role("button", name="Undo the status change of API")).to_be_visible()
    api.refresh_from_db()
    assert api.status == "partial_outage"
    assert not NotificationEvent.objects.exists()

    tab.clock.fast_forward("00:11")
    expect(row.get_by_role("button", name="Undo the status change of API")).to_have_count(0)
    expect(row.get_by_role("status")).to_contain_text("Saved")
    assert tab.js_errors == []


def test_undo_puts_the_previous_status_back(tab, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    sign_in(tab, "a-editor")
    tab.goto(console_url(tenant_a, "components/"))
    row = tab.locator(f"#component-status-{api.code}")
    row.get_by_label("Status of API").select_option(label="Major outage")
    row.get_by_role("button", name="Undo the status change of API").click()

    expect(row.get_by_role("status")).to_have_text("Undone")
    expect(row.get_by_label("Status of API")).to_have_value("operational")
    api.refresh_from_db()
    assert api.status == "operational"
    assert AuditLogEntry.objects.filter(action="component.status").count() == 2


def test_ticking_notify_tells_subscribers(tab, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    sign_in(tab, "a-editor")
    tab.goto(console_url(tenant_a))
    row = tab.locator(f"#component-status-{api.code}")
    row.get_by_label("Notify subscribers of API").check()
    assert not AuditLogEntry.objects.filter(action="component.status").exists()  # not sent yet
    row.get_by_label("Status of API").select_option(label="Degraded performance")

    expect(row.get_by_role("status")).to_contain_text("subscribers notified")
    assert NotificationEvent.objects.filter(kind="component_status").count() == 1


CONTRAST = """(selector) => {
    const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = (text) => {
        const [r, g, b] = rgb(text).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const style = getComputedStyle(document.querySelector(selector));
    const [high, low] = [luminance(style.color), luminance(style.backgroundColor)]
        .sort((a, b) => b - a);
    return (high + 0.05) / (low + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_declare_incident_button_meets_aa_contrast(tab, tenant_a, scheme):
    tab.emulate_media(color_scheme=scheme)
    sign_in(tab, "a-editor")
    tab.goto(console_url(tenant_a))
    assert tab.evaluate(CONTRAST, "a.button.danger.declare") >= 4.5
