"""The public pages as a visitor's browser lays them out: long unbroken names and addresses wrap
instead of widening the page, the phone layout keeps words and legend keys whole, and a status
changed meanwhile shows on the next navigation (no hard reload)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Incident
from status.models import ComponentGroup, ComponentStatus
from tests.browser.helpers import shot
from tests.factories import make_old_component

WIDTHS = [375, 1280]
# As long as each field takes (an incident name 200 characters, a component name 100).
LONG_INCIDENT = "Unbroken" + "x" * 192
LONG_COMPONENT = "Component" + "y" * 91
LONG_URL = "https://example.com/" + "z" * 280
LONG_TABLE = f"| {'t' * 150} | b |\n|-|-|\n| c | d |"


@pytest.fixture
def long_words(tenant_a):
    """Alpha's page with the longest names it takes: an incident about a component in a group,
    with a 300-character address in its update, and maintenance, both with unbroken names."""
    page = tenant_a.page
    page.name = "Page" + "p" * 96
    page.save()
    group = ComponentGroup.objects.create(page=page, name="Group" + "g" * 95)
    long_component = make_old_component(
        page, LONG_COMPONENT, group, description="Description" + "d" * 200
    )
    incident = Incident.declare(
        page,
        name=LONG_INCIDENT,
        body=f"Details at {LONG_URL} and in `{'c' * 150}`.\n\n{LONG_TABLE}",
        component_statuses={long_component: ComponentStatus.PARTIAL_OUTAGE},
        notify=False,
    )
    start = timezone.now() + timedelta(days=1)
    maintenance = Incident.schedule(
        page,
        name="Maintenance" + "m" * 189,
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        body=f"See {LONG_URL}",
        components=[long_component],
        notify=False,
    )
    return {
        "status page": "/p/alpha/",
        "incident page": f"/p/alpha/incidents/{incident.code}/",
        "maintenance page": f"/p/alpha/incidents/{maintenance.code}/",
        "history": "/p/alpha/history/",
    }


def page_width(tab):
    return tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("width", WIDTHS)
def test_long_names_and_addresses_never_widen_a_public_page(tab, long_words, width):
    tab.set_viewport_size({"width": width, "height": 900})
    for name, path in long_words.items():
        tab.goto(path)
        scroll_width, inner_width = page_width(tab)
        shot(tab, f"long-words-{name}-{width}")
        assert scroll_width <= inner_width, f"{name} is {scroll_width} px wide at {width} px"
    # The address in the update is a link, and still wraps.
    tab.goto(long_words["incident page"])
    link = tab.locator(".markdown a", has_text="https://example.com/")
    expect(link).to_have_attribute("href", LONG_URL)


def test_on_a_phone_the_menu_wraps_between_its_links_and_legend_keys_stay_with_their_words(
    tab, tenant_a
):
    page = tenant_a.page
    page.support_url = "https://support.example.com/"
    page.save()
    tab.set_viewport_size({"width": 375, "height": 800})
    tab.goto("/p/alpha/")

    links = tab.locator(".page-header nav a")
    assert links.count() == 4
    for i in range(links.count()):
        # One line box each: no link is broken over two lines.
        rects = links.nth(i).evaluate("link => link.getClientRects().length")
        assert rects == 1, links.nth(i).inner_text()
    # The page name has the header's width to itself, not a sliver beside the menu.
    brand = tab.locator(".page-header .brand").bounding_box()
    assert brand["width"] >= 200

    items = tab.locator(".legend .legend-item")
    assert items.count() == 6
    for i in range(items.count()):
        key = items.nth(i).locator(".key").bounding_box()
        words = items.nth(i).evaluate(
            "item => { const range = document.createRange(); range.selectNodeContents(item);"
            " const rects = [...range.getClientRects()]; return rects[rects.length - 1].top; }"
        )
        # The swatch and the last line of its words are on one line.
        assert abs(key["y"] - words) < 12, items.nth(i).inner_text()
    assert page_width(tab)[0] <= 375


def test_a_status_changed_meanwhile_shows_on_the_next_navigation(tab, tenant_a):
    tab.goto("/p/alpha/")
    expect(tab.locator(".banner")).to_have_text("All systems operational")

    tenant_a.page.components.get(name="API").set_status(ComponentStatus.MAJOR_OUTAGE)
    # A click on the menu's "Status" link: the browser's copy is revalidated, not reused.
    menu = tab.get_by_role("navigation", name="Status page")
    menu.get_by_role("link", name="History").click()
    expect(tab.locator("h1")).to_have_text("Incident history")
    menu.get_by_role("link", name="Status").click()
    expect(tab.locator(".banner")).to_have_text("Major system outage")
    expect(tab.locator(".component", has_text="API").locator(".status")).to_have_text(
        "Major outage"
    )
