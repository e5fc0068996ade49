"""`manage.py demo` gives the acme page sample system metrics, so `make run` shows charts."""

import os

from django.core.management import call_command

from status.models import Metric
from tests.html import visible


def test_the_demo_page_shows_sample_metric_charts_for_a_day_a_week_and_a_month(db, client):
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115 (safe to run again)
    assert Metric.objects.filter(page__slug="acme").count() == 2
    body = visible(client.get("/p/acme/"))
    cards = {card.find("h3").text: card for card in body.find_all("article", class_="metric")}
    assert sorted(cards) == ["API response time", "Error rate"]
    card = cards["API response time"]
    assert "Latest:" in card.find("p", class_="metric-latest").text
    for name in ("day", "week", "month"):
        figure = card.find("figure", class_=f"metric-chart-{name}")
        caption = figure.find("figcaption").text
        assert caption.startswith(f"Last {name}: minimum ") and " ms, average " in caption
        # A line of many points, not a single dot.
        assert figure.find("path", class_="metric-line").attrs["d"].count("L") > 25
    data = client.get("/p/acme/api/v2/metrics.json").json()["metrics"][0]
    # A point every five minutes for 28 days: the month holds all of them.
    # The day's first ten-minute bucket may start up to ten minutes before a day ago.
    assert 288 <= data["ranges"]["day"]["count"] <= 290
    assert len(data["ranges"]["day"]["points"]) in (144, 145)
    assert len(data["ranges"]["week"]["points"]) in (84, 85)
    assert len(data["ranges"]["month"]["points"]) in (112, 113)
    assert data["ranges"]["month"]["count"] == 28 * 288
