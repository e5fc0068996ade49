"""The public API v2's /api/v2/metrics.json: the page's displayed metrics, each with its latest
point and, for the last day, week and month, the summary and the points its chart draws;
summary.json is unchanged (tests/api/test_demo_v2_unchanged.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from status.models import Metric
from tests.factories import make_empty_page

NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)


@pytest.fixture
def page(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    return make_empty_page("alpha", "Alpha")


def test_metrics_json_lists_displayed_metrics_with_their_ranges(client, page):
    metric = Metric.add(by=None, page=page, name="Latency", suffix="ms", decimal_places=1)
    metric.record_many([(NOW - timedelta(minutes=90), 100.0), (NOW - timedelta(minutes=30), 200.0),
                        (NOW - timedelta(days=2), 400.0)])  # fmt: skip
    Metric.add(by=None, page=page, name="Hidden", display=False).record(1.0)
    response = client.get("/p/alpha/api/v2/metrics.json")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    data = response.json()
    assert data["page"]["id"] == page.code
    assert [m["name"] for m in data["metrics"]] == ["Latency"]
    found = data["metrics"][0]
    assert found["id"] == metric.code and found["suffix"] == "ms" and found["decimal_places"] == 1
    assert found["latest"] == {"timestamp": "2026-03-15T14:30:00.000Z", "value": 200.0}
    day, week = found["ranges"]["day"], found["ranges"]["week"]
    assert (day["count"], day["minimum"], day["maximum"], day["average"]) == (2, 100, 200, 150)
    assert [p["value"] for p in day["points"]] == [100.0, 200.0]
    assert day["points"][0]["timestamp"] == "2026-03-15T13:30:00.000Z"
    assert day["bucket_seconds"] == 60 and week["bucket_seconds"] == 2 * 3600
    assert (week["count"], week["maximum"]) == (3, 400)
    assert found["ranges"]["month"]["bucket_seconds"] == 6 * 3600


def test_a_new_point_shows_in_metrics_json_at_once(client, page):
    metric = Metric.add(by=None, page=page, name="Latency")
    assert client.get("/p/alpha/api/v2/metrics.json").json()["metrics"][0]["latest"] is None
    metric.record(7.0)
    assert client.get("/p/alpha/api/v2/metrics.json").json()["metrics"][0]["latest"]["value"] == 7


def test_summary_json_does_not_carry_metrics(client, page):
    Metric.add(by=None, page=page, name="Latency").record(7.0)
    assert "metrics" not in client.get("/p/alpha/api/v2/summary.json").json()
