"""The management API v1 for system metrics (status/metrics.py), in Statuspage's v1 paths and
shapes, with the API's conventions (status/api.py: key auth, `{key: {...}}` bodies, the error
shape, Idempotency-Key):

- `GET/POST /api/v1/pages/<page>/metrics`: list; create (`{"metric": {...}}`, 201);
- `GET/PATCH/PUT/DELETE /api/v1/pages/<page>/metrics/<id>`;
- `POST /api/v1/pages/<page>/metrics/<id>/data`: one point, `{"data": {"timestamp": <Unix
  seconds>, "value": <number>}}`; `DELETE` there deletes all the metric's data;
- `POST /api/v1/pages/<page>/metrics/data`: points for several metrics,
  `{"data": {"<metric id>": [{"timestamp": …, "value": …}, …]}}`.

A request's points are all recorded or none: a value that is not a finite number, a timestamp
that is not a number, older than the raw retention (METRICS_RAW_RETENTION_DAYS) or more than
MAX_FUTURE_SECONDS ahead, more than MAX_POINTS_PER_REQUEST points, or an id that is not one of
the page's metrics is a 422 naming the point.

Also the public API v2's `/api/v2/metrics.json` (no key; cached like the other public JSON):
the page's displayed metrics with their day, week and month summaries and points.
"""

from datetime import UTC, datetime

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework import status as http
from rest_framework.response import Response

from status.api import Unprocessable, endpoint, get_or_404, get_page, paginate, unwrap, wrapped
from status.api_schema import with_errors
from status.hosts import public_page
from status.metrics import (
    BACKFILL_DAYS,
    MAX_FUTURE_SECONDS,
    MAX_POINTS_PER_REQUEST,
    charts,
    metric_json,
    newest_accepted,
    oldest_accepted,
    point_json,
    public_metric_json,
)
from status.models import MAX_DECIMAL_PLACES, Metric, metric_value_problem
from status.shapes import page_json


class FiniteFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = metric_value_problem(value)
        if problem:
            raise serializers.ValidationError(f"This {problem}.")
        return value


class MetricInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    suffix = serializers.CharField(max_length=20, allow_blank=True, required=False)
    tooltip_description = serializers.CharField(
        max_length=500, allow_blank=True, allow_null=True, required=False
    )
    decimal_places = serializers.IntegerField(
        min_value=0, max_value=MAX_DECIMAL_PLACES, required=False
    )
    y_axis_min = FiniteFloatField(allow_null=True, required=False)
    y_axis_max = FiniteFloatField(allow_null=True, required=False)
    y_axis_hidden = serializers.BooleanField(required=False)
    display = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)


FIELDS = ("name", "suffix", "decimal_places", "y_axis_min", "y_axis_max", "y_axis_hidden",
          "display")  # fmt: skip


class MetricSchema(serializers.Serializer):
    id = serializers.CharField()
    page_id = serializers.CharField()
    metrics_provider_id = serializers.CharField(allow_null=True, help_text="Always null.")
    metric_identifier = serializers.CharField(allow_null=True, help_text="Always null.")
    name = serializers.CharField()
    display = serializers.BooleanField(help_text="Shown on the public page.")
    tooltip_description = serializers.CharField(allow_null=True)
    backfilled = serializers.BooleanField(help_text="Always false.")
    y_axis_min = serializers.FloatField(allow_null=True)
    y_axis_max = serializers.FloatField(allow_null=True)
    y_axis_hidden = serializers.BooleanField()
    suffix = serializers.CharField(allow_blank=True)
    decimal_places = serializers.IntegerField()
    most_recent_data_at = serializers.DateTimeField(allow_null=True)
    most_recent_value = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_fetched_at = serializers.DateTimeField(allow_null=True, help_text="Always null.")
    reference_name = serializers.CharField(allow_null=True, help_text="Always null.")
    source = serializers.CharField(
        allow_null=True, help_text='Where its data comes from: "api" or "monitor".'
    )
    position = serializers.IntegerField()


class PointSchema(serializers.Serializer):
    timestamp = serializers.FloatField(help_text="Unix time in seconds (UTC).")
    value = serializers.FloatField()


DataBody = inline_serializer("MetricDataBody", fields={"data": PointSchema()})
DataAnswer = inline_serializer("MetricDataAnswer", fields={"data": PointSchema()})
BatchBody = inline_serializer(
    "MetricsDataBody",
    fields={
        "data": serializers.DictField(
            child=serializers.ListField(child=PointSchema()),
            help_text="Points by metric id.",
        )
    },
)
BatchAnswer = inline_serializer(
    "MetricsDataAnswer",
    fields={
        "data": serializers.DictField(
            child=serializers.ListField(child=PointSchema()),
            help_text="The points recorded, by metric id.",
        )
    },
)


def metric_fields(data):
    fields = {name: data[name] for name in FIELDS if name in data}
    if "tooltip_description" in data:
        fields["tooltip_description"] = data["tooltip_description"] or ""
    return fields


@extend_schema(
    methods=["GET"],
    operation_id="metrics_list",
    responses=with_errors({200: MetricSchema(many=True)}),
)
@extend_schema(
    methods=["POST"],
    request=wrapped("metric", MetricInput, "MetricBody"),
    responses=with_errors({201: MetricSchema}),
)
@endpoint("GET", "POST")
def metrics(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        return Response([metric_json(m, page) for m in paginate(request, page.metrics.all())])
    data = unwrap(request, "metric", MetricInput)
    fields = metric_fields(data)
    Metric(page=page, **fields).full_clean(exclude=["page"])
    metric = Metric.add(
        by=request.auth, position=data.get("position"), page=page, source="api", **fields
    )
    return Response(metric_json(metric, page), status=201)


@extend_schema(methods=["GET"], responses=with_errors({200: MetricSchema}))
@extend_schema(methods=["DELETE"], responses=with_errors({204: None}))
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("metric", MetricInput, "MetricUpdateBody"),
    responses=with_errors({200: MetricSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def metric(request, page_code, metric_code):
    page = get_page(request, page_code)
    found = get_or_404(page.metrics, code=metric_code)
    found.page = page
    if request.method == "GET":
        return Response(metric_json(found, page))
    if request.method == "DELETE":
        found.remove(by=request.auth)
        return Response(status=http.HTTP_204_NO_CONTENT)
    data = unwrap(request, "metric", MetricInput, partial=True)
    for name, value in metric_fields(data).items():
        setattr(found, name, value)
    if "position" in data:
        found.ask_position(data["position"])
    found.full_clean(exclude=["page"])
    found.save_audited(by=request.auth)
    found.refresh_from_db()
    return Response(metric_json(found, page))


def parse_point(raw, where, now):
    """(at, value) from `{"timestamp": …, "value": …}`, or a 422 naming `where`."""
    if not isinstance(raw, dict) or set(raw) != {"timestamp", "value"}:
        raise Unprocessable(f'{where}: give an object with "timestamp" and "value" only.')
    stamp, value = raw["timestamp"], raw["value"]
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise Unprocessable(f"{where}.timestamp: must be a number.")
    problem = metric_value_problem(value)
    if problem:
        raise Unprocessable(f"{where}.value: {problem}.")
    try:
        at = datetime.fromtimestamp(stamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        at = None
    if at is None or at > newest_accepted(now):
        raise Unprocessable(
            f"{where}.timestamp: at most {MAX_FUTURE_SECONDS} seconds in the future (Unix"
            " seconds, not milliseconds)."
        )
    oldest = oldest_accepted(now)
    if at < oldest:
        raise Unprocessable(
            f"{where}.timestamp: data older than {oldest.isoformat(timespec='seconds')} is not"
            f" accepted ({BACKFILL_DAYS} days)."
        )
    return at, float(value)


def data_of(request):
    if not isinstance(request.data, dict) or "data" not in request.data:
        raise exceptions.ParseError('The body must be a JSON object {"data": ...}.')
    return request.data["data"]


@extend_schema(
    methods=["POST"],
    request=DataBody,
    responses=with_errors({201: DataAnswer}),
    description=f"Add one data point. Timestamps are Unix seconds, from {BACKFILL_DAYS} days ago"
    f" to {MAX_FUTURE_SECONDS} seconds ahead.",
)
@extend_schema(
    methods=["DELETE"],
    responses=with_errors({200: MetricSchema}),
    description="Delete all the metric's data; answers the metric.",
)
@endpoint("POST", "DELETE")
def metric_data(request, page_code, metric_code):
    page = get_page(request, page_code)
    found = get_or_404(page.metrics, code=metric_code)
    found.page = page
    if request.method == "DELETE":
        found.clear_data(by=request.auth)
        found.refresh_from_db()
        return Response(metric_json(found, page))
    at, value = parse_point(data_of(request), "data", timezone.now())
    found.record(value, at=at)
    return Response({"data": point_json(at, value)}, status=201)


@extend_schema(
    operation_id="pages_metrics_data_batch_create",
    request=BatchBody,
    responses=with_errors({201: BatchAnswer}),
    description=f"Add points to several metrics of the page at once: at most"
    f" {MAX_POINTS_PER_REQUEST} points in all; all are recorded or none.",
)
@endpoint("POST")
def metrics_data(request, page_code):
    page = get_page(request, page_code)
    data = data_of(request)
    if not isinstance(data, dict) or not data:
        raise Unprocessable('data: give an object {"<metric id>": [{"timestamp": …, "value": …}]}.')
    if any(not isinstance(points, list) for points in data.values()):
        raise Unprocessable("data: each metric id must have a list of points.")
    total = sum(len(points) for points in data.values())
    if total > MAX_POINTS_PER_REQUEST:
        raise Unprocessable(
            f"data: {total} points; at most {MAX_POINTS_PER_REQUEST} in one request."
        )
    found = {m.code: m for m in page.metrics.filter(code__in=list(data))}
    unknown = sorted(set(data) - set(found))
    if unknown:
        raise Unprocessable(f"data: {', '.join(unknown[:5])} is not a metric of this page.")
    now = timezone.now()
    parsed = {
        code: [parse_point(raw, f"data.{code}[{n}]", now) for n, raw in enumerate(points)]
        for code, points in data.items()
    }
    with transaction.atomic():
        for code, points in parsed.items():
            found[code].page = page
            found[code].record_many(points)
    return Response(
        {"data": {code: [point_json(at, value) for at, value in points]
                  for code, points in parsed.items()}},
        status=201,
    )  # fmt: skip


@public_page
def public_metrics(request, page):
    """/api/v2/metrics.json: the page's displayed metrics, as its charts show them."""
    found = charts(Metric.objects.filter(page=page).displayed())
    response = JsonResponse(
        {"page": page_json(page), "metrics": [public_metric_json(chart) for chart in found]},
        json_dumps_params={"ensure_ascii": False},
    )
    # Read from browsers on other sites (dashboards, widgets), as the other public JSON.
    response["Access-Control-Allow-Origin"] = "*"
    return response
