"""System metrics (Statuspage's "system metrics"): what a page's charts show, and how long the
data behind them is kept.

Points are recorded through `Metric.record` / `Metric.record_many` (status/models.py), which
keep the per-minute, per-hour and per-day roll-ups on write. This module reads those roll-ups:

- `charts(metrics)`: for each metric, a series for the last day, week and month with its
  summary (minimum, maximum, average, latest), in at most four queries for any number of
  metrics: the day from minute roll-ups (five-minute ones summed into ten-minute buckets once
  the day has more than DAY_MINUTE_POINTS points), the week from hour roll-ups summed into
  two-hour buckets, the month from hour roll-ups summed into six-hour buckets (UTC 00:00,
  06:00, …: no bucket claims to be a calendar day). The database sums the buckets and answers
  their starts as Unix seconds: a busy metric costs 348 rows, none of them a datetime to parse;
- `svg_path(...)`: the series as the `d` of an SVG path, broken where data is missing;
- `metric_json(metric, page)`: a metric in the management API v1 (Statuspage's shape);
  `public_metric_json(chart)`: a displayed metric with its charts' data in the public API v2;
- `prune_metrics`: raw points after METRICS_RAW_RETENTION_DAYS, minute and five-minute
  roll-ups after METRICS_MINUTE_RETENTION_DAYS (Celery beat, hourly; the embedded scheduler too).
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from celery import shared_task
from django.conf import settings
from django.db import connections
from django.db.models import BigIntegerField, ExpressionWrapper, F, Func, Max, Min, Sum, Value
from django.db.models.functions import Mod
from django.utils import timezone

from status.models import PERIOD_SECONDS, MetricPeriod, MetricPoint, MetricRollup
from status.shapes import timestamp

# What the API accepts in one request (API v1, status/api_metrics.py): points per request, how
# far ahead of the server's clock a timestamp may be (clients' clocks drift a little).
MAX_POINTS_PER_REQUEST = 3000
MAX_FUTURE_SECONDS = 300
# How old a submitted point may be (Statuspage accepts 28 days).
BACKFILL_DAYS = 28
# The day chart shows each minute while the day has at most this many points, then ten-minute
# buckets (144).
DAY_MINUTE_POINTS = 288


def raw_retention():
    return timedelta(days=settings.METRICS_RAW_RETENTION_DAYS)


def minute_retention():
    return timedelta(days=settings.METRICS_MINUTE_RETENTION_DAYS)


def oldest_accepted(now=None):
    """The oldest timestamp the API records (Statuspage's backfill window): points older than
    METRICS_RAW_RETENTION_DAYS go into the roll-ups only (Metric.record_many)."""
    return (now or timezone.now()) - timedelta(days=BACKFILL_DAYS)


def newest_accepted(now=None):
    return (now or timezone.now()) + timedelta(seconds=MAX_FUTURE_SECONDS)


# Charts -------------------------------------------------------------------------------------


@dataclass
class Series:
    """One chart: buckets of (start, count, total, minimum, maximum) in [start, end]."""

    name: str  # "day", "week", "month"
    label: str  # "Last day", …
    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: list = field(default_factory=list)

    # Read several times per render (the summary, the axis): computed once.
    @cached_property
    def count(self):
        return sum(b[1] for b in self.buckets)

    @cached_property
    def minimum(self):
        return min((b[3] for b in self.buckets), default=None)

    @cached_property
    def maximum(self):
        return max((b[4] for b in self.buckets), default=None)

    @cached_property
    def average(self):
        count = self.count
        return math.fsum(b[2] for b in self.buckets) / count if count else None

    def points(self):
        """(bucket start, average) in time order."""
        return [(datetime.fromtimestamp(b[0], tz=UTC), b[2] / b[1]) for b in self.buckets]


@dataclass
class Chart:
    metric: object
    series: list  # day, week, month

    @property
    def latest(self):
        return self.metric.most_recent_value

    @property
    def latest_at(self):
        return self.metric.most_recent_data_at


RANGES = [
    # name, label, length, roll-up period read, seconds per point drawn
    # 144 ten-minute buckets (the five-minute roll-ups summed by the database) or, while the day
    # has at most DAY_MINUTE_POINTS points, each minute with data.
    ("day", "Last day", timedelta(days=1), MetricPeriod.FIVE_MINUTES, 600),
    # 84 two-hour buckets.
    ("week", "Last week", timedelta(days=7), MetricPeriod.HOUR, 2 * 3600),
    # Six-hour buckets (UTC 00:00, 06:00, 12:00, 18:00) summed from the hour roll-ups: 120
    # points, none of which claims to be a calendar day in any time zone.
    ("month", "Last month", timedelta(days=30), MetricPeriod.HOUR, 6 * 3600),
]


class Epoch(Func):
    """A datetime column as whole Unix seconds, computed by the database: integers are read
    far faster than datetimes (psycopg parses each of those in Python)."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # unixepoch(): SQLite 3.38 or later.
        return self.as_sql(compiler, connection, template="unixepoch(%(expressions)s)", **extra)


def bucket_start(at, seconds):
    stamp = int(at.timestamp())
    return stamp - stamp % seconds


def charts(metrics, now=None):
    """A Chart per metric (in the order given), from at most four queries whatever their number
    (day, week, month, then the minutes of the metrics whose last day has at most
    DAY_MINUTE_POINTS points: their day chart shows each minute). Buckets are (start in Unix
    seconds, count, total, minimum, maximum)."""
    now = now or timezone.now()
    metrics = list(metrics)
    rows = {}
    ids = [m.pk for m in metrics]
    if ids:
        for name, _, length, period, seconds in RANGES:
            read(rows, name, ids, period, bucket_start(now - length, seconds), seconds, now)
        few = [
            pk for pk in ids if sum(b[1] for b in rows.get((pk, "day"), ())) <= DAY_MINUTE_POINTS
        ]
        if few:
            start = bucket_start(now - RANGES[0][2], 60)
            read(rows, "minutes", few, MetricPeriod.MINUTE, start, 60, now)
    found = []
    for metric in metrics:
        series = []
        for name, label, length, _, seconds in RANGES:
            minutes = rows.get((metric.pk, "minutes")) if name == "day" else None
            if minutes is not None:
                seconds, buckets = 60, minutes
            else:
                buckets = rows.get((metric.pk, name), [])
            start = datetime.fromtimestamp(bucket_start(now - length, seconds), tz=UTC)
            series.append(Series(name, label, start, now, seconds, buckets))
        found.append(Chart(metric, series))
    return found


def read(rows, name, metric_ids, period, start, seconds, now):
    """Add these metrics' roll-ups of `period` from `start` (Unix seconds) to `now`, summed into
    buckets of `seconds` by the database, to `rows`: {(metric id, name): [(start, count, total,
    minimum, maximum)]} in time order."""
    found = MetricRollup.objects.filter(
        metric__in=metric_ids,
        period=period,
        start__gte=datetime.fromtimestamp(start, tz=UTC),
        start__lte=now,
    ).annotate(epoch=Epoch("start"))
    if seconds == PERIOD_SECONDS[period]:
        found = found.order_by("metric_id", "epoch").values_list(
            "metric_id", "epoch", "count", "total", "minimum", "maximum"
        )
    else:
        found = (
            found.annotate(
                bucket=ExpressionWrapper(
                    F("epoch") - Mod("epoch", Value(seconds)), output_field=BigIntegerField()
                )
            )
            .values("metric_id", "bucket")
            .annotate(n=Sum("count"), t=Sum("total"), lo=Min("minimum"), hi=Max("maximum"))
            .order_by("metric_id", "bucket")
            .values_list("metric_id", "bucket", "n", "t", "lo", "hi")
        )
    # The ORM's SQL, run without the ORM's per-value converters (a measurable share of a cold
    # page with busy metrics): the database answers ints and floats already.
    sql, params = found.query.sql_with_params()
    with connections[found.db].cursor() as cursor:
        cursor.execute(sql, params)
        for metric_id, *bucket in cursor.fetchall():
            rows.setdefault((metric_id, name), []).append(tuple(bucket))


# SVG ----------------------------------------------------------------------------------------

WIDTH = 600
HEIGHT = 120


def y_bounds(metric, series):
    """The value at the bottom and at the top of the chart: the metric's axis limits where it
    has them, otherwise the data's (from 0 when every value is positive), never equal."""
    low = metric.y_axis_min
    high = metric.y_axis_max
    if low is None:
        low = min(0.0, series.minimum) if series.minimum is not None else 0.0
    if high is None:
        high = series.maximum if series.maximum is not None else 1.0
    if high <= low:
        high = low + max(1.0, abs(low))
    return low, high


def svg_path(metric, series):
    """The `d` of a path through the series' averages in a WIDTH × HEIGHT box; a new segment
    starts after a gap of more than two buckets (no line is drawn across missing data)."""
    low, high = y_bounds(metric, series)
    origin = series.start.timestamp()
    half, gap_seconds = series.bucket_seconds / 2, 2 * series.bucket_seconds
    x_scale = WIDTH / ((series.end - series.start).total_seconds() or 1.0)
    y_scale = HEIGHT / ((high - low) or 1.0)
    parts, previous = [], None
    for stamp, count, total, _, _ in series.buckets:
        x = min(max((stamp + half - origin) * x_scale, 0.0), float(WIDTH))
        y = HEIGHT - (min(max(total / count, low), high) - low) * y_scale
        command = "M" if previous is None or stamp - previous > gap_seconds else "L"
        parts.append(f"{command}{x:.1f} {y:.1f}")
        previous = stamp
    if len(parts) == 1:
        # A single point: a short level line, so that it shows.
        x, y = parts[0][1:].split()
        parts.append(f"L{min(float(x) + 4, WIDTH):.1f} {y}")
    return " ".join(parts)


def format_value(metric, value):
    """A value as the page shows it: the metric's decimal places and suffix."""
    if value is None:
        return "no data"
    text = f"{value:,.{metric.decimal_places}f}"
    return f"{text} {metric.suffix}".rstrip() if metric.suffix else text


# JSON ---------------------------------------------------------------------------------------


def metric_json(metric, page):
    """A metric in Statuspage's v1 shape (null where we have nothing: no metrics providers),
    with our `source`, `position`, `page_id` and `most_recent_value`."""
    return {
        "id": metric.code,
        "page_id": page.code,
        "metrics_provider_id": None,
        "metric_identifier": None,
        "name": metric.name,
        "display": metric.display,
        "tooltip_description": metric.tooltip_description or None,
        "backfilled": False,
        "y_axis_min": metric.y_axis_min,
        "y_axis_max": metric.y_axis_max,
        "y_axis_hidden": metric.y_axis_hidden,
        "suffix": metric.suffix,
        "decimal_places": metric.decimal_places,
        "most_recent_data_at": timestamp(metric.most_recent_data_at),
        "most_recent_value": metric.most_recent_value,
        "created_at": timestamp(metric.created_at),
        "updated_at": timestamp(metric.updated_at),
        "last_fetched_at": None,
        "reference_name": None,
        "source": metric.source or None,
        "position": metric.position,
    }


def public_metric_json(chart):
    """A displayed metric in the public API v2 (/api/v2/metrics.json; Statuspage has no such
    endpoint, so the shape is ours): its settings, latest point, and per range (day, week,
    month) the summary and the points the page's chart draws (bucket start, average)."""
    metric = chart.metric
    latest = None
    if chart.latest_at is not None:
        latest = {"timestamp": timestamp(chart.latest_at), "value": chart.latest}
    return {
        "id": metric.code,
        "name": metric.name,
        "suffix": metric.suffix,
        "tooltip_description": metric.tooltip_description or None,
        "decimal_places": metric.decimal_places,
        "y_axis_min": metric.y_axis_min,
        "y_axis_max": metric.y_axis_max,
        "y_axis_hidden": metric.y_axis_hidden,
        "latest": latest,
        "ranges": {
            series.name: {
                "start": timestamp(series.start),
                "end": timestamp(series.end),
                "bucket_seconds": series.bucket_seconds,
                "count": series.count,
                "minimum": series.minimum,
                "maximum": series.maximum,
                "average": series.average,
                "points": [
                    {"timestamp": timestamp(start), "value": value}
                    for start, value in series.points()
                ],
            }
            for series in chart.series
        },
    }


def point_json(at, value):
    """A data point as Statuspage answers it: Unix seconds and the value."""
    stamp = at.timestamp()
    return {"timestamp": int(stamp) if stamp.is_integer() else stamp, "value": value}


# Retention ------------------------------------------------------------------------------------


def prune(now=None):
    """Delete raw points, and minute and five-minute roll-ups, past their retention; the counts
    deleted."""
    now = now or timezone.now()
    points = MetricPoint.objects.filter(at__lt=now - raw_retention()).delete()[0]
    minutes = MetricRollup.objects.filter(
        period__in=[MetricPeriod.MINUTE, MetricPeriod.FIVE_MINUTES],
        start__lt=now - minute_retention(),
    ).delete()[0]
    return {"metric_points": points, "metric_minutes": minutes}


@shared_task
def prune_metrics():
    """Celery beat, hourly: metric data past its retention."""
    return prune()
