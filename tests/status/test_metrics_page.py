"""System metrics on the public status page, as a visitor sees them: a chart per displayed
metric for the last day, week and month (inline SVG, a switch that needs no script), each with a
text summary (minimum, maximum, average) and the latest value, in the metric's decimal places and
suffix; a new point shows on the next request, through the page cache."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from status.models import Metric, Page
from tests.factories import make_empty_page, make_old_component
from tests.html import visible

NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def page(db, now):
    page = make_empty_page("alpha", "Alpha")
    make_old_component(page, "API")
    return page


@pytest.fixture
def latency(page):
    metric = Metric.add(
        by=None,
        page=page,
        name="API response time",
        suffix="ms",
        decimal_places=1,
        tooltip_description="Median, measured every minute",
    )
    # In the last day 100, 300 and 250; three days ago (week and month only) 1000.
    metric.record_many(
        [
            (NOW - timedelta(hours=2), 100.0),
            (NOW - timedelta(hours=1), 300.0),
            (NOW - timedelta(minutes=5), 250.0),
        ]  # fmt: skip
    )
    metric.record(1000.0, at=NOW - timedelta(days=3))
    return metric


def metric_card(body, name):
    for card in body.find_all("article", class_="metric"):
        if card.find("h3").text == name:
            return card
    raise AssertionError(f"no metric {name!r} on the page")


def chart(card, name):
    return card.find("figure", class_=f"metric-chart-{name}")


def test_each_range_has_an_svg_chart_with_a_text_summary(client, latency):
    card = metric_card(visible(client.get("/p/alpha/")), "API response time")
    assert "Median, measured every minute" in card.text
    assert "Latest: 250.0 ms" in card.find("p", class_="metric-latest").text
    day, week, month = chart(card, "day"), chart(card, "week"), chart(card, "month")
    assert day.find("figcaption").text == (
        "Last day: minimum 100.0 ms, maximum 300.0 ms, average 216.7 ms"
    )
    # The week and month include the point three days ago.
    assert week.find("figcaption").text == (
        "Last week: minimum 100.0 ms, maximum 1,000.0 ms, average 412.5 ms"
    )
    assert month.find("figcaption").text == (
        "Last month: minimum 100.0 ms, maximum 1,000.0 ms, average 412.5 ms"
    )
    for figure in (day, week, month):
        svg = figure.find("svg")
        assert svg.attrs["role"] == "img"
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert svg.find("title", id=title_id).text.startswith("API response time, last ")
        assert svg.find("desc", id=desc_id).text in figure.find("figcaption").text
        path = svg.find("path", class_="metric-line").attrs["d"]
        assert re.fullmatch(r"M[\d.]+ [\d.]+( [ML][\d.]+ [\d.]+)+", path), path


def test_the_day_chart_draws_one_point_per_minute_with_data_and_breaks_at_gaps(client, latency):
    card = metric_card(visible(client.get("/p/alpha/")), "API response time")
    path = chart(card, "day").find("path", class_="metric-line").attrs["d"]
    # Three minutes with data, an hour apart or more: three segments of their own.
    assert path.count("M") == 3
    # The highest value (300) is at the top of the chart (y=0), the axis starts at 0.
    assert " 0.0" in path
    axis = chart(card, "day").find("div", class_="metric-axis")
    assert [span.text for span in axis.find_all("span")] == ["300.0 ms", "0.0 ms"]


def test_the_switch_between_day_week_and_month_needs_no_script(client, latency):
    body = visible(client.get("/p/alpha/"))
    card = metric_card(body, "API response time")
    radios = card.find_all("input", class_="metric-range")
    assert [r.attrs["value"] for r in radios] == ["day", "week", "month"]
    assert "checked" in radios[0].attrs and "checked" not in radios[1].attrs
    labels = {label.attrs["for"]: label.text for label in card.find_all("label")}
    assert [labels[r.attrs["id"]] for r in radios] == ["Last day", "Last week", "Last month"]
    assert not card.find_all("script")


def test_axis_limits_hidden_axis_and_hidden_metrics(client, page, latency):
    latency.y_axis_min, latency.y_axis_max, latency.y_axis_hidden = 0, 500, True
    latency.save()
    Metric.add(by=None, page=page, name="Secret queue", display=False).record(3.0)
    body = visible(client.get("/p/alpha/"))
    card = metric_card(body, "API response time")
    assert not card.find_all("div", class_="metric-axis")
    # 300 of 0..500 is 60 % up a 120-high chart.
    assert " 48.0" in chart(card, "day").find("path").attrs["d"]
    assert "Secret queue" not in body.text


def test_a_metric_without_data_says_so(client, page):
    Metric.add(by=None, page=page, name="Error rate", suffix="%")
    card = metric_card(visible(client.get("/p/alpha/")), "Error rate")
    assert "No data yet." in card.text
    assert chart(card, "day").find("figcaption").text == "Last day: no data"
    assert not card.find_all("path")


def test_a_page_without_metrics_has_no_metrics_section(client, page):
    body = visible(client.get("/p/alpha/"))
    assert not body.find_all("section", class_="metrics")


def test_points_reach_the_page_through_its_cache_at_most_once_a_minute(
    client, page, latency, time_machine
):
    """A metric fed every few seconds must not regenerate the page every few seconds: the first
    point of each minute bumps the page's version, later ones of that minute show with it."""
    assert "Latest: 250.0 ms" in visible(client.get("/p/alpha/")).text
    version = Page.objects.get(pk=page.pk).version
    # The fixture's points bumped the page in this minute (15:00): this one waits.
    time_machine.move_to(NOW + timedelta(seconds=40), tick=False)
    latency.record(42.0)
    assert "Latest: 250.0 ms" in visible(client.get("/p/alpha/")).text
    assert Page.objects.get(pk=page.pk).version == version
    # The next minute's first point shows, and the one before it in the charts.
    time_machine.move_to(NOW + timedelta(seconds=65), tick=False)
    latency.record(7.0)
    card = metric_card(visible(client.get("/p/alpha/")), "API response time")
    assert "Latest: 7.0 ms" in card.text
    assert chart(card, "day").find("figcaption").text == (
        "Last day: minimum 7.0 ms, maximum 300.0 ms, average 139.8 ms"
    )
    assert Page.objects.get(pk=page.pk).version == version + 1


def test_whether_a_point_shows_follows_display_in_the_database_not_the_callers_copy(
    client, page, time_machine
):
    metric = Metric.add(by=None, page=page, name="Queue wait", suffix="s", display=False)
    stale = Metric.objects.get(pk=metric.pk)
    metric.display = True
    metric.save()
    assert "No data yet." in metric_card(visible(client.get("/p/alpha/")), "Queue wait").text
    # The caller's copy still says hidden; the database says shown: the point reaches the page.
    time_machine.move_to(NOW + timedelta(minutes=1), tick=False)
    stale.record(3.0)
    assert "Latest: 3 s" in metric_card(visible(client.get("/p/alpha/")), "Queue wait").text


def test_a_regeneration_reuses_the_charts_whose_data_did_not_change(client, page, latency):
    """The rendered cards are cached under each metric's data version: another change of the
    page reads no roll-ups, a new point or an edit of the metric redraws its card only."""
    other = Metric.add(by=None, page=page, name="Error rate", suffix="%")
    other.record(1.0)
    client.get("/p/alpha/")

    def rollup_queries():
        with CaptureQueriesContext(connection) as queries:
            body = visible(client.get("/p/alpha/"))
        return body, [q["sql"] for q in queries if "status_metricrollup" in q["sql"]]

    make_old_component(page, "Website")  # bumps the page's version
    body, read = rollup_queries()
    assert read == [] and "Website" in body.text
    assert "Latest: 250.0 ms" in metric_card(body, "API response time").text
    # An edit of the metric's display fields redraws its card.
    latency.suffix = "s"
    latency.save()
    body, read = rollup_queries()
    assert read and "Latest: 250.0 s" in metric_card(body, "API response time").text
    assert "Latest: 1 %" in metric_card(body, "Error rate").text
    # So does clearing its data.
    latency.clear_data(by=None)
    assert "No data yet." in metric_card(visible(client.get("/p/alpha/")), "API response time").text


def test_other_pages_metrics_are_not_shown(client, page, latency):
    other = make_empty_page("bravo", "Bravo")
    make_old_component(other, "Web")
    Metric.add(by=None, page=other, name="Bravo latency").record(1.0)
    body = visible(client.get("/p/alpha/"))
    assert "Bravo latency" not in body.text
    assert "API response time" not in visible(client.get("/p/bravo/")).text


def test_the_pages_queries_do_not_grow_with_its_metrics(client, page, latency):
    def queries_for_the_page():
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/p/alpha/").status_code == 200
        return len(queries)

    one = queries_for_the_page()
    for i in range(6):
        Metric.add(by=None, page=page, name=f"Metric {i}").record(float(i))
    assert queries_for_the_page() == one
    assert visible(client.get("/p/alpha/")).text.count("Last week:") == 7


@pytest.mark.parametrize("low", [1e15, -1e15, 1e17])
def test_an_axis_minimum_at_any_magnitude_still_draws_the_chart(client, latency, low):
    # 1e17 is past what the console and the API accept (their limit is 1e15); stored anyway
    # (an older row, a script), the page must still draw rather than fail.
    Metric.objects.filter(pk=latency.pk).update(y_axis_min=low, y_axis_max=None)
    latency.page.bump_version()
    response = client.get("/p/alpha/")
    assert response.status_code == 200
    card = metric_card(visible(response), "API response time")
    assert chart(card, "day").find("svg") is not None
