"""The uptime bars' day popovers in a browser, with no script (public pages allow none): they
open on hover, on a tap and from the keyboard, and a phone shows 30 days without overflow. A
calm day (no downtime, no links) is a button alone: its popover is its name, drawn by CSS
(`::after`), read here from the computed style and placed on the page by geometry."""

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


# The ::after popover of a calm day's button as the browser lays it out: its text (None when it
# is not drawn), its box in the viewport, and whether the point at its middle hits this button
# (the pseudo-element is part of it): drawn on top, not under the next bar or row.
CALM_POPOVER = """(button) => {
    const style = getComputedStyle(button, "::after");
    if (style.content === "none" || style.content === "normal") return null;
    const list = button.closest("ol").getBoundingClientRect();
    const left = list.left + parseFloat(style.left), top = list.top + parseFloat(style.top);
    const width = parseFloat(style.width), height = parseFloat(style.height);
    const middle = document.elementFromPoint(left + width / 2, top + height / 2);
    let opacity = 1;  // as seen: an ancestor's opacity would pale the popover too
    for (let el = button; el; el = el.parentElement) opacity *= getComputedStyle(el).opacity;
    return {
        content: style.content, left, right: left + width, width, height, opacity,
        listLeft: list.left, listRight: list.right,
        onTop: middle === button, position: style.position, background: style.backgroundColor,
        colour: style.color,
    };
}"""


def calm_popover(key):
    return key.evaluate(CALM_POPOVER)


def day_label(page, days_ago):
    local = (timezone.now() - timedelta(days=days_ago)).astimezone(page.tz)
    return f"{local:%b} {local.day}, {local.year}"


def check_calm_popover(key, label, width, opens="leftwards"):
    shown = calm_popover(key)
    assert shown is not None, f"{label}: no popover"
    assert shown["content"] == f'"{label}: No downtime"'
    assert shown["position"] == "absolute"
    assert shown["width"] > 50 and shown["height"] > 10
    assert shown["left"] >= 0 and shown["right"] <= width, shown  # inside the page
    # Under the bars, from their right end (the newer days) or their left end (the older).
    edge = ("right", "listRight") if opens == "leftwards" else ("left", "listLeft")
    assert abs(shown[edge[0]] - shown[edge[1]]) < 1, (opens, shown)
    assert shown["onTop"], shown
    assert shown["opacity"] == 1, shown
    assert shown["background"] != shown["colour"]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_calm_days_popover_is_its_name_on_hover_on_tap_and_from_the_keyboard(
    tab, outage_yesterday, width
):
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto("/p/alpha/")
    days = tab.locator(".component", has_text="API").locator(".uptime-days > li")
    page = outage_yesterday.page
    shown = 30 if width < 480 else 90
    # A newer day (opens leftwards) and the oldest day the screen shows (opens rightwards).
    for index, days_ago, opens in [(-4, 3, "leftwards"), (-shown, shown - 1, "rightwards")]:
        label = day_label(page, days_ago)
        day = days.nth(index)
        key = day.locator("button")
        assert day.locator("> *").count() == 1  # the button alone
        expect(key).to_have_accessible_name(f"{label}: No downtime")
        assert calm_popover(key) is None

        key.hover()
        check_calm_popover(key, label, width, opens)
        shot(tab, f"uptime-calm-popover-{width}-{opens}")
        tab.mouse.move(0, 0)
        assert calm_popover(key) is None

        key.click()  # a tap: the button takes the focus
        tab.mouse.move(0, 0)
        check_calm_popover(key, label, width, opens)  # stays open while focused
        tab.locator("h2#components-heading").click()
        assert calm_popover(key) is None

        key.focus()  # as Tab reaches it
        check_calm_popover(key, label, width, opens)
        tab.keyboard.press("Shift+Tab")
        assert calm_popover(key) is None
        tab.keyboard.press("Tab")
        expect(key).to_be_focused()
        check_calm_popover(key, label, width, opens)
        tab.keyboard.press("Tab")  # on to the next day
        assert calm_popover(key) is None
        tab.locator("h2#components-heading").click()


def test_the_hovered_day_wins_over_the_focused_one(tab, outage_yesterday):
    tab.goto("/p/alpha/")
    days = tab.locator(".component", has_text="API").locator(".uptime-days > li")
    calm, outage = days.nth(-4).locator("button"), days.nth(-2).locator("button")
    pop = days.nth(-2).locator("> div")
    label = day_label(outage_yesterday.page, 3)

    calm.focus()
    check_calm_popover(calm, label, 1280)
    outage.hover()
    check_popover(pop, outage_yesterday)
    assert calm_popover(calm) is None

    tab.mouse.move(0, 0)
    outage.focus()
    check_popover(pop, outage_yesterday)
    calm.hover()
    check_calm_popover(calm, label, 1280)
    expect(pop).to_be_hidden()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_calm_days_popover_is_drawn_like_the_others(
    browser, live_server, settings, outage_yesterday, scheme
):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, color_scheme=scheme
    )
    try:
        tab = context.new_page()
        tab.goto("/p/alpha/")
        days = tab.locator(".component", has_text="API").locator(".uptime-days > li")
        calm, outage = days.nth(-4).locator("button"), days.nth(-2).locator("button")
        looks = ["background-color", "color", "border-top-color", "border-top-width",
                 "border-radius", "box-shadow", "font-family", "font-size", "font-weight",
                 "line-height", "padding-left", "padding-top", "text-align", "z-index"]  # fmt: skip
        read = "([el, pseudo, names]) => names.map((n) => getComputedStyle(el, pseudo)[n])"
        calm.hover()
        check_calm_popover(calm, day_label(outage_yesterday.page, 3), 1280)
        drawn = tab.evaluate(read, [calm.element_handle(), "::after", looks])
        outage.hover()
        pop = days.nth(-2).locator("> div")
        expect(pop).to_be_visible()
        expected = tab.evaluate(read, [pop.element_handle(), None, looks])
        assert dict(zip(looks, drawn, strict=True)) == dict(zip(looks, expected, strict=True))
        # The theme's own surface and text.
        surface = tab.evaluate(
            "() => getComputedStyle(document.querySelector('.component-group')).backgroundColor"
        )
        assert drawn[0] == surface
        # The calm day's bar (an <li> without a class) has the colour of "Operational".
        tab.mouse.move(0, 0)
        operational = tab.evaluate(
            "() => getComputedStyle(document.querySelector('.status-operational')).color"
        )
        assert days.nth(-4).get_attribute("class") is None
        assert calm.evaluate("(el) => getComputedStyle(el).backgroundColor") == operational
    finally:
        context.close()


def test_a_tap_opens_a_calm_days_popover_with_touch(
    browser, live_server, settings, outage_yesterday
):
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
        key = tab.locator(".component", has_text="API").locator(".uptime-days > li button").nth(-4)
        key.tap()
        check_calm_popover(key, day_label(outage_yesterday.page, 3), 375)
    finally:
        context.close()
