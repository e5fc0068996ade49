"""The uptime bars' day popovers in a browser, with no script (public pages allow none): they
open on hover, on a tap and from the keyboard, and a phone shows 30 days without overflow."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from status.models import Component, ComponentGroup, ComponentStatus
from tests.browser.helpers import shot
from tests.factories import make_outage, make_resolved_incident

WIDTHS = [375, 1280]


@pytest.fixture
def outage_yesterday(tenant_a):
    """API in major outage for 45 minutes yesterday at noon, and the incident about it."""
    page = tenant_a.page
    api = Component.objects.get(page=page, name="API")
    # In service long before: its history starts then.
    api.created_at = timezone.now() - timedelta(days=200)
    api.save()
    api.status_changes.update(started_at=api.created_at)
    noon = timezone.now().astimezone(page.tz).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = noon - timedelta(days=1)
    make_outage(api, ComponentStatus.MAJOR_OUTAGE, yesterday, yesterday + timedelta(minutes=45))
    incident = make_resolved_incident(page, "Slow logins", yesterday, minutes=45)
    incident.components.add(api)
    return incident


def yesterday_of_api(tab):
    day = tab.locator(".component", has_text="API").locator(".uptime-days > li").nth(-2)
    return day, day.locator("button"), day.locator("> div")


def check_popover(pop, incident):
    expect(pop).to_be_visible()
    expect(pop).to_contain_text("Major outage: 45 min")
    expect(pop.get_by_role("link", name="Slow logins")).to_have_attribute(
        "href", f"/p/alpha/incidents/{incident.code}/"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_day_popover_opens_on_hover_on_tap_and_from_the_keyboard(tab, outage_yesterday, width):
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto("/p/alpha/")
    _, key, pop = yesterday_of_api(tab)
    expect(key).to_have_accessible_name(re.compile(r": Major outage\. Major outage: 45 min$"))
    expect(pop).to_be_hidden()

    key.hover()
    check_popover(pop, outage_yesterday)
    shot(tab, f"uptime-popover-{width}")
    tab.mouse.move(0, 0)
    expect(pop).to_be_hidden()

    key.click()  # a tap: the button takes the focus
    check_popover(pop, outage_yesterday)
    tab.mouse.move(0, 0)
    check_popover(pop, outage_yesterday)  # stays open while focused
    tab.locator("h2#components-heading").click()
    expect(pop).to_be_hidden()

    key.focus()  # as Tab reaches it
    check_popover(pop, outage_yesterday)
    tab.keyboard.press("Tab")  # into its link
    expect(pop.get_by_role("link", name="Slow logins")).to_be_focused()
    check_popover(pop, outage_yesterday)
    tab.keyboard.press("Enter")
    expect(tab).to_have_url(re.compile(f"/incidents/{outage_yesterday.code}/$"))


def test_a_tap_opens_the_popover_with_touch(browser, live_server, settings, outage_yesterday):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 375, "height": 800},
        has_touch=True,
        is_mobile=True,
    )
    try:
        tab = context.new_page()
        tab.goto("/p/alpha/")
        _, key, pop = yesterday_of_api(tab)
        key.tap()
        check_popover(pop, outage_yesterday)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("width", "days", "ago"),
    [(375, 30, "30 days ago"), (700, 60, "60 days ago"), (1280, 90, "90 days ago")],
)
def test_phones_show_fewer_days_without_overflow(tab, outage_yesterday, width, days, ago):
    tab.set_viewport_size({"width": width, "height": 800})
    tab.goto("/p/alpha/")
    bars = tab.locator(".component", has_text="API").locator(".uptime-days > li")
    assert bars.count() == 90
    assert bars.evaluate_all("els => els.filter(e => e.offsetWidth > 0).length") == days
    legend = tab.locator(".component", has_text="API").locator(".uptime-legend")
    expect(legend).to_contain_text(ago)
    assert legend.locator(f"text={ago}").is_visible()
    assert f"past {days} days" in tab.locator("#components-heading").inner_text()
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    # The newest day's popover opens inside the page too.
    bars.last.locator("button").click()
    assert tab.evaluate("document.documentElement.scrollWidth") <= width


def test_a_closed_group_shows_its_own_bar_and_opens_to_its_components(tab, outage_yesterday):
    group = ComponentGroup.objects.create(page=outage_yesterday.page, name="Core", collapsed=True)
    Component.objects.filter(page=outage_yesterday.page).update(group=group)
    tab.goto("/p/alpha/")
    core = tab.locator("details.component-group")
    expect(core.locator(".group-uptime .uptime-days")).to_be_visible()
    expect(core.locator(".component").first).to_be_hidden()
    pop = core.locator(".group-uptime .uptime-days > li").nth(-2).locator("> div")
    core.locator(".group-uptime .uptime-days > li").nth(-2).locator("button").hover()
    check_popover(pop, outage_yesterday)
    core.locator("summary").click()
    expect(core.locator(".component").first).to_be_visible()
