"""System metrics: points folded into minute, hour and day roll-ups as they are recorded,
pruned after their retention, scoped to their page."""

import math
import os
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery import current_app
from django.db import connection
from django.db.models import Max, Min, Sum
from django.utils import timezone

from status.metrics import charts, prune
from status.models import Metric, MetricPeriod, MetricPoint, MetricRollup, period_start

NOW = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def metric(tenant_a):
    return Metric.objects.create(page=tenant_a.page, name="API response time", suffix="ms")


def test_recording_a_point_keeps_it_and_its_minute_hour_and_day(metric):
    with time_machine.travel(NOW, tick=False):
        assert metric.record(120.5) == 1
    assert list(metric.points.values_list("at", "value")) == [(NOW, 120.5)]
    rollups = {r.period: r for r in metric.rollups.all()}
    assert rollups["minute"].start == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert rollups["hour"].start == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert rollups["day"].start == datetime(2026, 11, 30, tzinfo=UTC)
    assert {(r.count, r.total, r.minimum, r.maximum) for r in rollups.values()} == {
        (1, 120.5, 120.5, 120.5)
    }
    metric.refresh_from_db()
    assert metric.most_recent_data_at == NOW


def test_rollups_equal_what_the_raw_points_give(metric):
    rng = random.Random(14)
    points = [
        (NOW - timedelta(seconds=rng.randrange(0, 3 * 86400)), rng.uniform(-50, 900))
        for _ in range(600)
    ]
    # Recorded in several writes, out of order, as clients send them.
    for start in range(0, 600, 37):
        metric.record_many(points[start : start + 37])
    metric.record(12.0, at=points[0][0])
    for period in MetricPeriod:
        by_bucket = {}
        for point in MetricPoint.objects.filter(metric=metric):
            by_bucket.setdefault(period_start(point.at, period), []).append(point.value)
        rollups = MetricRollup.objects.filter(metric=metric, period=period)
        assert {r.start for r in rollups} == set(by_bucket)
        for rollup in rollups:
            values = by_bucket[rollup.start]
            assert rollup.count == len(values)
            assert math.isclose(rollup.total, math.fsum(values), rel_tol=1e-9, abs_tol=1e-9)
            assert rollup.minimum == min(values)
            assert rollup.maximum == max(values)
            assert math.isclose(rollup.average, sum(values) / len(values), abs_tol=1e-9)
    totals = MetricRollup.objects.filter(metric=metric, period="day").aggregate(
        Sum("count"), Min("minimum"), Max("maximum")
    )
    assert totals["count__sum"] == 601
    assert totals["minimum__min"] == min(v for _, v in points + [(None, 12.0)])


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "12", None, True])
def test_a_value_that_is_not_a_finite_number_records_nothing(metric, value):
    with pytest.raises(ValueError):
        metric.record_many([(NOW, 1.0), (NOW, value)])
    assert not MetricPoint.objects.exists()
    assert not MetricRollup.objects.exists()


def test_pruning_drops_raw_points_and_minutes_past_their_retention_and_keeps_the_charts(
    metric, settings
):
    settings.METRICS_RAW_RETENTION_DAYS = 7
    settings.METRICS_MINUTE_RETENTION_DAYS = 14
    # Each recorded as it happened, then left to age.
    for age, value in ((20, 1.0), (10, 2.0), (1, 3.0)):
        with time_machine.travel(NOW - timedelta(days=age), tick=False):
            metric.record(value)
    result = prune(now=NOW)
    assert result == {"metric_points": 2, "metric_minutes": 2}
    assert list(metric.points.values_list("value", flat=True)) == [3.0]
    # The minute and five-minute roll-ups of the point 20 days ago are gone.
    for period in ("minute", "5min"):
        kept = MetricRollup.objects.filter(metric=metric, period=period)
        assert sorted(r.total for r in kept) == [2.0, 3.0]
    # Hours and days stay: the week and month charts still have every point.
    assert MetricRollup.objects.filter(metric=metric, period="hour").count() == 3
    assert sorted(r.total for r in MetricRollup.objects.filter(metric=metric, period="day")) == [
        1.0,
        2.0,
        3.0,
    ]
    assert prune(now=NOW) == {"metric_points": 0, "metric_minutes": 0}


def test_a_backfill_goes_raw_and_by_the_minute_only_within_those_retentions(metric, settings):
    """Statuspage's 28 days of backfill: older raw points and minutes would be pruned at once,
    so they go into the hour and day roll-ups only, and the week and month charts show them."""
    settings.METRICS_RAW_RETENTION_DAYS = 7
    settings.METRICS_MINUTE_RETENTION_DAYS = 14
    with time_machine.travel(NOW, tick=False):
        metric.record_many([(NOW - timedelta(days=d), float(d)) for d in (27, 10, 1)])
        (chart,) = charts([metric])
    assert list(metric.points.values_list("value", flat=True)) == [1.0]
    for period in ("minute", "5min"):
        kept = MetricRollup.objects.filter(metric=metric, period=period)
        assert sorted(r.total for r in kept) == [1.0, 10.0]
    for period in ("hour", "day"):
        kept = MetricRollup.objects.filter(metric=metric, period=period)
        assert sorted(r.total for r in kept) == [1.0, 10.0, 27.0]
    day, week, month = chart.series
    assert (day.count, week.count, month.count) == (1, 1, 3)
    assert (month.minimum, month.maximum) == (1.0, 27.0)
    with time_machine.travel(NOW, tick=False):
        assert prune() == {"metric_points": 0, "metric_minutes": 0}


def test_pruning_is_on_the_schedule_of_beat_and_of_the_embedded_scheduler(metric, settings):
    with time_machine.travel(timezone.now() - timedelta(days=30)):
        metric.record(5.0)
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "metric" in e["task"]]
    assert float(entry["schedule"]) <= 3600
    # What run_scheduler and the worker do with the schedule's name (a registered task).
    assert current_app.tasks[entry["task"]]() == {"metric_points": 1, "metric_minutes": 2}
    assert not MetricPoint.objects.exists()
    # Registered in a fresh process too, where nothing but the app's start imported it.
    check = (
        "import django; django.setup(); from celery import current_app;"
        f" assert {entry['task']!r} in current_app.tasks"
    )
    subprocess.run([sys.executable, "-c", check], check=True, timeout=120,
                   env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"})  # fmt: skip


def test_recording_and_charts_stay_within_the_metrics_page(metric, tenant_b):
    other = Metric.objects.create(page=tenant_b.page, name="Bravo latency")
    metric.record(10.0)
    other.record(99.0)
    assert list(tenant_b.page.metrics.all()) == [other]
    (chart,) = charts(Metric.objects.filter(page=metric.page))
    assert chart.metric == metric
    assert [s.maximum for s in chart.series] == [10.0, 10.0, 10.0]


def test_the_day_chart_uses_ten_minute_buckets_once_it_has_many_minutes(metric):
    points = [(NOW - timedelta(minutes=m), float(m)) for m in range(1, 400)]
    metric.record_many(points)
    with time_machine.travel(NOW, tick=False):
        (chart,) = charts([metric])
    day, week, month = chart.series
    assert day.bucket_seconds == 600 and week.bucket_seconds == 2 * 3600
    assert month.bucket_seconds == 6 * 3600
    assert day.count == 399 and day.minimum == 1.0 and day.maximum == 399.0
    assert math.isclose(day.average, sum(range(1, 400)) / 399)
    assert all(start.minute % 10 == 0 and start.second == 0 for start, _ in day.points())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_into_the_same_minutes_add_up(tenant_a):
    """Eight threads, each its own connection and transaction, record 50 points each into
    the same few minutes at once: every roll-up counts all 400."""
    metric = Metric.objects.create(page=tenant_a.page, name="Busy")
    start = threading.Barrier(8)
    errors = []

    def write(n):
        try:
            start.wait()
            for i in range(50):
                Metric.objects.get(pk=metric.pk).record(float(n * 100 + i), at=NOW)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    values = [float(n * 100 + i) for n in range(8) for i in range(50)]
    for rollup in MetricRollup.objects.filter(metric=metric):
        assert rollup.count == 400
        assert rollup.total == pytest.approx(math.fsum(values))
        assert (rollup.minimum, rollup.maximum) == (min(values), max(values))
