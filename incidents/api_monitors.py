"""The management API v1 for built-in monitors (incidents/monitors.py), in the API's conventions
(status/api.py: key auth, `{"monitor": {...}}` bodies, Statuspage's error shape,
Idempotency-Key):

- `GET/POST /api/v1/pages/<page>/monitors`: list; create (201 with the monitor);
- `GET/PATCH/PUT/DELETE /api/v1/pages/<page>/monitors/<id>`: `enabled: false` pauses it (its
  alerts resolve), DELETE answers the deleted monitor.

Unknown fields are refused (422 naming them); a URL or host on a private address is refused
(422) unless the platform allows them.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents import monitors
from incidents.models import HOLD_DOWN_MAX, IncidentTemplate, Monitor, MonitorKind
from incidents.monitor_models import (
    FAILURE_STATUSES,
    HEARTBEAT_PERIOD_MAX,
    HTTP_METHODS,
    INTERVAL_MAX,
    INTERVAL_MIN,
    STREAK_MAX,
    TIMEOUT_MAX,
)
from status.api import Unprocessable, endpoint, get_or_404, get_page, paginate, unwrap, wrapped
from status.api_schema import with_errors
from status.shapes import timestamp

SETTINGS = (
    "name", "url", "method", "expected_status_min", "expected_status_max", "keyword",
    "timeout_seconds", "latency_threshold_ms", "host", "port", "heartbeat_period_seconds",
    "heartbeat_grace_seconds", "interval_seconds", "failures_to_trip", "successes_to_recover",
    "status_on_failure", "hold_down_seconds", "open_incident", "enabled",
)  # fmt: skip


class MonitorInput(serializers.Serializer):
    kind = serializers.ChoiceField(MonitorKind.choices)
    name = serializers.CharField(max_length=100)
    component_id = serializers.CharField(max_length=32)
    url = serializers.CharField(max_length=2000, required=False, help_text="HTTP: the URL.")
    method = serializers.ChoiceField([(m, m) for m in HTTP_METHODS], required=False)
    expected_status_min = serializers.IntegerField(min_value=100, max_value=599, required=False)
    expected_status_max = serializers.IntegerField(min_value=100, max_value=599, required=False)
    keyword = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="HTTP: text the answer's first MiB must contain.",
    )  # fmt: skip
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=TIMEOUT_MAX, required=False)
    latency_threshold_ms = serializers.IntegerField(
        min_value=1, max_value=600_000, required=False, allow_null=True,
        help_text="HTTP and TCP: slower answers count towards degraded performance.",
    )  # fmt: skip
    host = serializers.CharField(max_length=253, required=False, help_text="TCP: the host.")
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    heartbeat_period_seconds = serializers.IntegerField(
        min_value=60, max_value=HEARTBEAT_PERIOD_MAX, required=False
    )
    heartbeat_grace_seconds = serializers.IntegerField(
        min_value=0, max_value=HEARTBEAT_PERIOD_MAX, required=False
    )
    interval_seconds = serializers.IntegerField(
        min_value=INTERVAL_MIN, max_value=INTERVAL_MAX, required=False
    )
    failures_to_trip = serializers.IntegerField(min_value=1, max_value=STREAK_MAX, required=False)
    successes_to_recover = serializers.IntegerField(
        min_value=1, max_value=STREAK_MAX, required=False
    )
    status_on_failure = serializers.ChoiceField(
        [(s.value, s.value) for s in FAILURE_STATUSES], required=False
    )
    hold_down_seconds = serializers.IntegerField(
        min_value=0, max_value=HOLD_DOWN_MAX, required=False
    )
    open_incident = serializers.BooleanField(required=False)
    template_id = serializers.CharField(max_length=32, required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(name)[:64] for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {"non_field_errors": [f"unknown field(s): {', '.join(unknown[:10])}."]}
                )
        return super().to_internal_value(data)


class MonitorSchema(serializers.Serializer):
    id = serializers.CharField()
    page_id = serializers.CharField()
    component_id = serializers.CharField()
    kind = serializers.ChoiceField(MonitorKind.choices)
    name = serializers.CharField()
    url = serializers.CharField()
    method = serializers.CharField()
    expected_status_min = serializers.IntegerField()
    expected_status_max = serializers.IntegerField()
    keyword = serializers.CharField()
    timeout_seconds = serializers.IntegerField()
    latency_threshold_ms = serializers.IntegerField(allow_null=True)
    host = serializers.CharField()
    port = serializers.IntegerField(allow_null=True)
    heartbeat_period_seconds = serializers.IntegerField()
    heartbeat_grace_seconds = serializers.IntegerField()
    interval_seconds = serializers.IntegerField()
    failures_to_trip = serializers.IntegerField()
    successes_to_recover = serializers.IntegerField()
    status_on_failure = serializers.CharField()
    hold_down_seconds = serializers.IntegerField()
    open_incident = serializers.BooleanField()
    template_id = serializers.CharField(allow_null=True)
    enabled = serializers.BooleanField()
    ping_url = serializers.CharField(allow_null=True, help_text="Heartbeat: the URL to call.")
    metric_id = serializers.CharField(allow_null=True, help_text="Its response time metric.")
    state = serializers.ChoiceField(["pending", "up", "degraded", "down", "paused"])
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_ok = serializers.BooleanField(allow_null=True)
    last_latency_ms = serializers.FloatField(allow_null=True)
    last_error = serializers.CharField()
    skipped_checks = serializers.IntegerField(
        help_text="Checks skipped because the previous one was still running."
    )
    next_due_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def monitor_data(monitor):
    data = {
        "id": monitor.code,
        "page_id": monitor.page.code,
        "component_id": monitor.component.code,
        "kind": monitor.kind,
    }
    data.update({name: getattr(monitor, name) for name in SETTINGS})
    data.update(
        {
            "template_id": monitor.template.code if monitor.template_id else None,
            "ping_url": monitor.ping_url if monitor.kind == MonitorKind.HEARTBEAT else None,
            "metric_id": monitor.metric.code if monitor.metric_id else None,
            "state": monitor.state,
            "last_checked_at": timestamp(monitor.last_checked_at),
            "last_ok": monitor.last_ok,
            "last_latency_ms": monitor.last_latency_ms,
            "last_error": monitor.last_error,
            "skipped_checks": monitor.skipped_checks,
            "next_due_at": timestamp(monitor.next_due_at),
            "created_at": timestamp(monitor.created_at),
            "updated_at": timestamp(monitor.updated_at),
        }
    )
    return data


def fields_of(page, data):
    """Monitor fields from the API's, with the page's component and template for their ids."""
    fields = {name: data[name] for name in SETTINGS if name in data}
    if fields.get("keyword") is None and "keyword" in fields:
        fields["keyword"] = ""
    if "component_id" in data:
        fields["component"] = page.components.filter(code=data["component_id"]).first()
        if fields["component"] is None:
            raise Unprocessable("component_id: no such component on this page.")
    if "template_id" in data:
        fields["template"] = None
        if data["template_id"]:
            fields["template"] = IncidentTemplate.objects.filter(
                page=page, code=data["template_id"]
            ).first()
            if fields["template"] is None:
                raise Unprocessable("template_id: no such incident template on this page.")
    return fields


def refused(error):
    """A ValidationError from the model as one 422 message naming the fields."""
    if hasattr(error, "message_dict"):
        return Unprocessable(
            "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.message_dict.items())
        )
    return Unprocessable("; ".join(error.messages))


def monitors_of(page):
    return Monitor.objects.filter(page=page).select_related("page", "component", "template",
                                                            "metric")  # fmt: skip


@extend_schema(methods=["GET"], responses=with_errors({200: MonitorSchema(many=True)}))
@extend_schema(
    methods=["POST"],
    request=wrapped("monitor", MonitorInput, "MonitorBody"),
    responses=with_errors({201: MonitorSchema}),
)
@endpoint("GET", "POST")
def monitor_list(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        found = paginate(request, monitors_of(page).order_by("created_at", "id"))
        return Response([monitor_data(m) for m in found])
    data = unwrap(request, "monitor", MonitorInput)
    try:
        monitor = monitors.create(page, kind=data["kind"], by=request.auth,
                                  **fields_of(page, data))  # fmt: skip
    except ValidationError as error:
        raise refused(error) from None
    return Response(monitor_data(monitors_of(page).get(pk=monitor.pk)), status=201)


@extend_schema(
    methods=["GET", "DELETE"],
    responses=with_errors({200: MonitorSchema}),
    description="DELETE answers the deleted monitor; its alerts resolve first.",
)
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("monitor", MonitorInput, "MonitorUpdateBody"),
    responses=with_errors({200: MonitorSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def monitor_detail(request, page_code, monitor_code):
    page = get_page(request, page_code)
    found = get_or_404(monitors_of(page), code=monitor_code)
    if request.method == "GET":
        return Response(monitor_data(found))
    if request.method == "DELETE":
        data = monitor_data(found)
        monitors.remove(found, by=request.auth)
        return Response(data)
    data = unwrap(request, "monitor", MonitorInput, partial=True)
    if "kind" in data and data["kind"] != found.kind:
        raise Unprocessable("kind cannot be changed; create another monitor.")
    try:
        monitors.edit(found, by=request.auth, **fields_of(page, data))
    except ValidationError as error:
        raise refused(error) from None
    return Response(monitor_data(monitors_of(page).get(pk=found.pk)))
