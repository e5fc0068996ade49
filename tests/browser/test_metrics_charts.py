"""A metric's charts in a browser, with no script (public pages allow none): the day chart shows
first, Week and Month switch to theirs by click or keyboard, and a phone shows the chart within
its width; nothing is refused by the Content-Security-Policy (the `tab` fixture checks)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from status.models import Metric


@pytest.fixture
def latency(tenant_a):
    metric = Metric.add(by=None, page=tenant_a.page, name="API response time", suffix="ms")
    now = timezone.now()
    metric.record_many([(now - timedelta(hours=h), 100.0 + h) for h in range(0, 24 * 20, 5)])
    return metric


def test_day_week_and_month_switch_without_script(tab, latency):
    tab.goto("/p/alpha/")
    card = tab.locator("article.metric", has_text="API response time")
    day, week, month = (card.locator(f".metric-chart-{name}") for name in ("day", "week", "month"))
    expect(day).to_be_visible()
    expect(week).to_be_hidden()
    expect(day.get_by_role("img", name="API response time, last day")).to_be_visible()
    card.get_by_text("Last week", exact=True).click()
    expect(week).to_be_visible()
    expect(day).to_be_hidden()
    expect(week).to_contain_text("Last week: minimum 100 ms, maximum 265 ms")
    # From the keyboard: the radio group moves with the arrow keys.
    card.get_by_role("radio", name="Last week").focus()
    tab.keyboard.press("ArrowRight")
    expect(month).to_be_visible()
    expect(week).to_be_hidden()
    expect(month).to_contain_text("Last month: minimum 100 ms, maximum 575 ms")


def test_a_phone_shows_the_chart_within_its_width(tab, latency):
    tab.set_viewport_size({"width": 375, "height": 740})
    tab.goto("/p/alpha/")
    svg = tab.locator("article.metric .metric-chart-day svg")
    box = svg.bounding_box()
    assert box is not None and box["width"] > 150 and box["x"] + box["width"] <= 375
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
