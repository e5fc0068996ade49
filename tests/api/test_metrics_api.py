"""System metrics through the management API, in Statuspage's v1 paths and shapes: create,
list, read, change, delete; one point, points for several metrics at once, clearing data; bad
input is a 4xx with a message and records nothing; another tenant's key gets 404."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from status.models import AuditLogEntry, Metric, MetricPoint, MetricRollup

METRIC_KEYS = {
    "id", "page_id", "metrics_provider_id", "metric_identifier", "name", "display",
    "tooltip_description", "backfilled", "y_axis_min", "y_axis_max", "y_axis_hidden", "suffix",
    "decimal_places", "most_recent_data_at", "most_recent_value", "created_at", "updated_at",
    "last_fetched_at", "reference_name", "source", "position",
}  # fmt: skip


@pytest.fixture
def metric_a(tenant_a):
    return Metric.add(by=None, page=tenant_a.page, name="API latency", suffix="ms")


@pytest.fixture
def metric_b(tenant_b):
    return Metric.add(by=None, page=tenant_b.page, name="B latency")


def nothing_recorded():
    return not MetricPoint.objects.exists() and not MetricRollup.objects.exists()


def test_create_answers_201_in_statuspages_shape_and_is_audited(api_a, tenant_a):
    response = api_a.post(
        "metrics",
        {"metric": {"name": "Response time", "suffix": "ms", "decimal_places": 1,
                    "tooltip_description": "Median of our API", "y_axis_min": 0}},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) == METRIC_KEYS
    assert data["name"] == "Response time" and data["suffix"] == "ms"
    assert data["decimal_places"] == 1 and data["y_axis_min"] == 0 and data["y_axis_max"] is None
    assert data["display"] is True and data["source"] == "api"
    assert data["most_recent_data_at"] is None and data["page_id"] == tenant_a.page.code
    metric = Metric.objects.get(code=data["id"])
    assert metric.page == tenant_a.page
    entry = AuditLogEntry.objects.get(action="metric.create")
    assert entry.api_key is not None and entry.object_code == metric.code


def test_list_read_change_and_delete(api_a, metric_a):
    assert [m["id"] for m in api_a.get("metrics").json()] == [metric_a.code]
    assert api_a.get(f"metrics/{metric_a.code}").json()["name"] == "API latency"
    change = {"metric": {"display": False, "suffix": "s"}}
    response = api_a.patch(f"metrics/{metric_a.code}", change)
    assert response.status_code == 200, response.content
    assert response.json()["display"] is False and response.json()["suffix"] == "s"
    assert response.json()["name"] == "API latency"
    assert api_a.delete(f"metrics/{metric_a.code}").status_code == 204
    assert not Metric.objects.filter(pk=metric_a.pk).exists()
    assert api_a.get(f"metrics/{metric_a.code}").status_code == 404


def test_one_point_is_recorded_and_answered_as_statuspage_does(api_a, metric_a):
    stamp = int(time.time()) - 60
    response = api_a.post(f"metrics/{metric_a.code}/data",
                          {"data": {"timestamp": stamp, "value": 123.4}})  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json() == {"data": {"timestamp": stamp, "value": 123.4}}
    point = MetricPoint.objects.get(metric=metric_a)
    assert point.at == datetime.fromtimestamp(stamp, tz=UTC) and point.value == 123.4
    read = api_a.get(f"metrics/{metric_a.code}").json()
    assert read["most_recent_value"] == 123.4
    assert read["most_recent_data_at"].startswith(
        datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_points_for_several_metrics_in_one_request(api_a, tenant_a, metric_a):
    other = Metric.add(by=None, page=tenant_a.page, name="Queue depth")
    now = int(time.time())
    body = {
        "data": {
            metric_a.code: [
                {"timestamp": now - 120, "value": 10},
                {"timestamp": now - 60, "value": 30},
            ],
            other.code: [{"timestamp": now - 30, "value": 7.5}],
        }
    }
    response = api_a.post("metrics/data", body)
    assert response.status_code == 201, response.content
    assert response.json() == body
    assert sorted(MetricPoint.objects.filter(metric=metric_a).values_list("value", flat=True)) == [
        10.0,
        30.0,
    ]
    assert api_a.get(f"metrics/{other.code}").json()["most_recent_value"] == 7.5


def test_deleting_data_clears_points_and_charts(api_a, metric_a):
    metric_a.record(5.0)
    response = api_a.delete(f"metrics/{metric_a.code}/data")
    assert response.status_code == 200, response.content
    assert response.json()["most_recent_data_at"] is None
    assert nothing_recorded()
    assert AuditLogEntry.objects.filter(action="metric.clear_data").exists()


def now_minus(seconds=0):
    return int(time.time()) - seconds


BAD_POINTS = [
    ({"timestamp": "yesterday", "value": 1}, "timestamp: must be a number"),
    ({"timestamp": 1, "value": "fast"}, "value: must be a number"),
    ({"timestamp": True, "value": 1}, "timestamp: must be a number"),
    ({"value": 1}, '"timestamp" and "value"'),
    ({"timestamp": 1, "value": 1, "unit": "ms"}, '"timestamp" and "value"'),
    ([1, 2], '"timestamp" and "value"'),
    ({"timestamp": 10**30, "value": 1}, "in the future"),
    ({"timestamp": 1e300, "value": 1}, "in the future"),
    ({"timestamp": -1e300, "value": 1}, "in the future"),
    ({"timestamp": 10**400, "value": 1}, "in the future"),
    ({"timestamp": 1, "value": 10**400}, "value: must be a finite number from -1e+15 to 1e+15"),
    ({"timestamp": 1, "value": 1e308}, "value: must be a finite number from -1e+15 to 1e+15"),
    ({"timestamp": 1, "value": -2e15}, "value: must be a finite number from -1e+15 to 1e+15"),
]


@pytest.mark.parametrize(("point", "message"), BAD_POINTS)
def test_a_bad_point_is_422_with_a_message_and_records_nothing(api_a, metric_a, point, message):
    response = api_a.post(f"metrics/{metric_a.code}/data", {"data": point})
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "unprocessable_entity"
    assert message in response.json()["message"]
    assert nothing_recorded()


def test_timestamps_too_far_ahead_or_older_than_the_backfill_window_are_refused(api_a, metric_a):
    ahead = api_a.post(f"metrics/{metric_a.code}/data",
                       {"data": {"timestamp": now_minus(-3600), "value": 1}})  # fmt: skip
    assert ahead.status_code == 422 and "future" in ahead.json()["message"]
    milliseconds = api_a.post(f"metrics/{metric_a.code}/data",
                              {"data": {"timestamp": now_minus() * 1000, "value": 1}})  # fmt: skip
    assert milliseconds.status_code == 422 and "not milliseconds" in milliseconds.json()["message"]
    old = now_minus(int(timedelta(days=28, minutes=1).total_seconds()))
    too_old = api_a.post(f"metrics/{metric_a.code}/data", {"data": {"timestamp": old, "value": 1}})
    assert too_old.status_code == 422 and "not accepted (28 days)" in too_old.json()["message"]
    assert nothing_recorded()


def test_points_up_to_28_days_old_are_accepted_and_shown_in_the_month(
    api_a, metric_a, tenant_a, client, settings
):
    """Statuspage's backfill window. Raw points are kept METRICS_RAW_RETENTION_DAYS (7), so the
    older ones go into the hour roll-ups only: the week and month charts show them."""
    settings.METRICS_RAW_RETENTION_DAYS = 7
    points = [
        {"timestamp": now_minus(int(timedelta(days=days).total_seconds())), "value": value}
        for days, value in ((27.9, 500.0), (10, 300.0), (0.5, 100.0))
    ]
    response = api_a.post("metrics/data", {"data": {metric_a.code: points}})
    assert response.status_code == 201, response.content
    found = client.get(f"/p/{tenant_a.page.slug}/api/v2/metrics.json").json()["metrics"][0]
    day, week, month = (found["ranges"][name] for name in ("day", "week", "month"))
    assert (day["count"], day["maximum"]) == (1, 100.0)
    assert (week["count"], week["maximum"]) == (1, 100.0)
    assert (month["count"], month["minimum"], month["maximum"]) == (3, 100.0, 500.0)
    assert month["average"] == pytest.approx(300.0)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(api_a, metric_a, literal):
    body = f'{{"data": {{"timestamp": {now_minus()}, "value": {literal}}}}}'
    response = api_a.http.post(
        f"/api/v1/pages/{api_a.page_code}/metrics/{metric_a.code}/data",
        data=body,
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["message"]
    assert nothing_recorded()


def test_one_bad_point_in_a_batch_records_none_of_it(api_a, metric_a):
    body = {"data": {metric_a.code: [{"timestamp": now_minus(60), "value": 1},
                                     {"timestamp": now_minus(30), "value": None}]}}  # fmt: skip
    response = api_a.post("metrics/data", body)
    assert response.status_code == 422
    assert response.json()["message"] == f"data.{metric_a.code}[1].value: must be a number."
    assert nothing_recorded()


def test_a_batch_naming_another_pages_metric_is_refused_and_records_nothing(
    api_a, metric_a, metric_b
):
    body = {"data": {metric_a.code: [{"timestamp": now_minus(), "value": 1}],
                     metric_b.code: [{"timestamp": now_minus(), "value": 2}]}}  # fmt: skip
    response = api_a.post("metrics/data", body)
    assert response.status_code == 422
    assert metric_b.code in response.json()["message"]
    assert nothing_recorded()


def test_too_many_points_in_one_request_are_refused(api_a, metric_a):
    stamp = now_minus(60)
    body = {"data": {metric_a.code: [{"timestamp": stamp, "value": 1}] * 3001}}
    response = api_a.post("metrics/data", body)
    assert response.status_code == 422 and "at most 3000" in response.json()["message"]
    assert nothing_recorded()


@pytest.mark.parametrize(
    "body",
    [{"metric": {"suffix": "ms"}}, {"metric": {"name": "x", "decimal_places": 9}},
     {"metric": {"name": "x", "y_axis_min": 10, "y_axis_max": 5}},
     {"metric": {"name": "x", "y_axis_max": "lots"}}, {"metric": "x"}, {"name": "x"},
     {"metric": {"name": "x", "y_axis_min": 1e17}}],
)  # fmt: skip
def test_a_bad_metric_is_a_4xx_with_a_message_and_creates_nothing(api_a, body):
    response = api_a.post("metrics", body)
    assert response.status_code in (400, 422), response.content
    assert response.json()["message"]
    assert not Metric.objects.exists()


def test_another_tenants_key_gets_404_and_changes_nothing(api_b, tenant_a, metric_a):
    base = f"/api/v1/pages/{tenant_a.page.code}/metrics"
    point = {"data": {"timestamp": now_minus(), "value": 1}}
    assert api_b.get(base).status_code == 404
    assert api_b.post(base + "/data", {"data": {metric_a.code: [point["data"]]}}).status_code == 404
    assert api_b.post(f"{base}/{metric_a.code}/data", point).status_code == 404
    assert api_b.delete(f"{base}/{metric_a.code}").status_code == 404
    assert Metric.objects.filter(pk=metric_a.pk).exists()
    assert nothing_recorded()


def test_malformed_json_is_400(api_a, metric_a):
    response = api_a.http.post(
        f"/api/v1/pages/{api_a.page_code}/metrics/data", data="{", content_type="application/json"
    )
    assert response.status_code == 400 and json.loads(response.content)["message"]


def test_a_retried_batch_with_its_idempotency_key_is_recorded_once(api_a, metric_a):
    body = {"data": {metric_a.code: [{"timestamp": now_minus(60), "value": 4.0}]}}
    path = f"/api/v1/pages/{api_a.page_code}/metrics/data"
    for _ in range(2):
        response = api_a.http.post(
            path, data=json.dumps(body), content_type="application/json",
            headers={"Idempotency-Key": "batch-1"},
        )  # fmt: skip
        assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"
    assert MetricPoint.objects.filter(metric=metric_a).count() == 1
    assert MetricRollup.objects.get(metric=metric_a, period="day").count == 1


def test_a_monitors_metric_is_deleted_with_its_monitor_not_on_its_own(api_a, tenant_a):
    metric = Metric.add(by=None, page=tenant_a.page, name="Check response time", source="monitor")
    response = api_a.delete(f"metrics/{metric.code}")
    assert response.status_code == 422, response.content
    assert "deleted with its monitor" in response.json()["message"]
    assert Metric.objects.filter(pk=metric.pk).exists()
