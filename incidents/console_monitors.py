"""The console's built-in monitors (/manage/<page_code>/monitors/): the list (state, last
result, share of good checks over the last 24 hours, a heartbeat's ping URL), adding one, its
settings and latest results, pause and resume, delete. What monitors do is
incidents/monitors.py's; the API does the same through incidents/api_monitors.py."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from incidents import monitors
from incidents.models import HOLD_DOWN_DEFAULT, HOLD_DOWN_MAX, Monitor, MonitorKind, MonitorResult
from incidents.monitor_models import (
    FAILURE_STATUSES,
    HEARTBEAT_PERIOD_MAX,
    HTTP_METHODS,
    INTERVAL_MAX,
    INTERVAL_MIN,
    STREAK_MAX,
    TIMEOUT_MAX,
)
from status.htmx import can_edit, done
from status.models import Role
from status.tenancy import page_member

RESULTS_SHOWN = 50


class MonitorForm(forms.Form):
    name = forms.CharField(max_length=100)
    component = forms.ChoiceField()
    url = forms.CharField(
        label="URL", max_length=2000, required=False, help_text="HTTP(S) monitors: what to call."
    )
    method = forms.ChoiceField(choices=[(m, m) for m in HTTP_METHODS], initial="GET")
    expected_status_min = forms.IntegerField(
        label="Expected status from", min_value=100, max_value=599, initial=200
    )
    expected_status_max = forms.IntegerField(
        label="Expected status to", min_value=100, max_value=599, initial=299,
        help_text="Redirects are not followed: include 3xx here if one is the right answer.",
    )  # fmt: skip
    keyword = forms.CharField(
        max_length=200, required=False, help_text="Optional: text the answer must contain."
    )
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", min_value=1, max_value=TIMEOUT_MAX, initial=10
    )
    latency_threshold_ms = forms.IntegerField(
        label="Slow above (ms)", min_value=1, max_value=600_000, required=False,
        help_text="Optional: slower answers in a row set degraded performance.",
    )  # fmt: skip
    host = forms.CharField(max_length=253, required=False, help_text="TCP monitors: the host.")
    port = forms.IntegerField(min_value=1, max_value=65535, required=False)
    heartbeat_period_seconds = forms.IntegerField(
        label="Heartbeat period (seconds)", min_value=60, max_value=HEARTBEAT_PERIOD_MAX,
        initial=3600, help_text="Heartbeats: how often the job calls its ping URL.",
    )  # fmt: skip
    heartbeat_grace_seconds = forms.IntegerField(
        label="Grace (seconds)", min_value=0, max_value=HEARTBEAT_PERIOD_MAX, initial=300
    )
    interval_seconds = forms.IntegerField(
        label="Check every (seconds)", min_value=INTERVAL_MIN, max_value=INTERVAL_MAX, initial=60
    )
    failures_to_trip = forms.IntegerField(
        label="Failures in a row before it counts", min_value=1, max_value=STREAK_MAX, initial=3
    )
    successes_to_recover = forms.IntegerField(
        label="Good checks in a row to recover", min_value=1, max_value=STREAK_MAX, initial=3
    )
    status_on_failure = forms.ChoiceField(
        label="Status when it fails",
        choices=[(s.value, s.label) for s in FAILURE_STATUSES],
        initial="major_outage",
    )
    hold_down_seconds = forms.IntegerField(
        label="Hold-down (seconds)", min_value=0, max_value=HOLD_DOWN_MAX,
        initial=HOLD_DOWN_DEFAULT,
        help_text="A failure reaches the page only once it has lasted this long.",
    )  # fmt: skip
    open_incident = forms.BooleanField(required=False, label="Open an incident when it fails")
    template = forms.ChoiceField(required=False, label="Incident template")

    def __init__(self, *args, page, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        self.fields["component"].choices = [(c.code, c.name) for c in page.components.all()]
        self.fields["template"].choices = [("", "— named after the monitor")] + [
            (t.code, t.name) for t in page.incident_templates.all()
        ]

    def monitor_fields(self):
        data = dict(self.cleaned_data)
        data["component"] = get_object_or_404(self.page.components, code=data["component"])
        code = data.pop("template", "")
        data["template"] = (
            get_object_or_404(self.page.incident_templates, code=code) if code else None
        )
        return data


class NewMonitorForm(MonitorForm):
    kind = forms.ChoiceField(choices=MonitorKind.choices)
    field_order = ["kind", "name", "component"]


def initial_of(monitor):
    initial = {name: getattr(monitor, name) for name in MonitorForm.base_fields}
    initial["component"] = monitor.component.code
    initial["template"] = monitor.template.code if monitor.template_id else ""
    return initial


def good_share(page, since):
    """{monitor id: share of its checks since `since` that passed}, in one query."""
    counts = (
        MonitorResult.objects.filter(monitor__page=page, at__gte=since)
        .values("monitor")
        .annotate(total=Count("id"), good=Count("id", filter=Q(ok=True)))
    )
    return {row["monitor"]: row["good"] / row["total"] for row in counts}


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def monitor_list(request, page):
    if request.method == "POST" and not can_edit(page):
        raise PermissionDenied("This needs the editor role.")
    form = NewMonitorForm(request.POST if request.method == "POST" else None, page=page)
    if request.method == "POST" and form.is_valid():
        fields = form.monitor_fields()
        kind = fields.pop("kind")
        try:
            monitor = monitors.create(page, kind=kind, by=request.user, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Monitor “{monitor.name}” added.")
            return done(request, reverse("manage:monitor-detail", args=[page.code, monitor.code]))
    found = list(page.monitors.select_related("component"))
    shares = good_share(page, timezone.now() - timedelta(hours=24))
    for monitor in found:
        monitor.day_share = shares.get(monitor.id)
    context = {"page": page, "monitors": found, "can_edit": can_edit(page), "form": form}
    return render(request, "manage/monitors/list.html", context)


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def monitor_detail(request, page, monitor_code):
    monitor = get_object_or_404(Monitor.objects.select_related("component"), page=page,
                                code=monitor_code)  # fmt: skip
    form = MonitorForm(initial=initial_of(monitor), page=page)
    if request.method == "POST":
        if not can_edit(page):
            raise PermissionDenied("This needs the editor role.")
        form = MonitorForm(request.POST, page=page)
        if form.is_valid():
            try:
                monitor = monitors.edit(monitor, by=request.user, **form.monitor_fields())
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Monitor “{monitor.name}” saved.")
                return done(request, reverse("manage:monitor-detail",
                                             args=[page.code, monitor.code]))  # fmt: skip
    context = {
        "page": page,
        "monitor": monitor,
        "form": form,
        "can_edit": can_edit(page),
        "results": monitor.results.all()[:RESULTS_SHOWN],
        "day_share": good_share(page, timezone.now() - timedelta(hours=24)).get(monitor.id),
    }
    return render(request, "manage/monitors/detail.html", context)


@page_member(role=Role.EDITOR)
@require_POST
def monitor_pause(request, page, monitor_code):
    """Pause a running monitor (its alerts resolve), or resume a paused one."""
    monitor = get_object_or_404(Monitor, page=page, code=monitor_code)
    monitor = monitors.edit(monitor, by=request.user, enabled=not monitor.enabled)
    messages.success(
        request, f"Monitor “{monitor.name}” {'resumed' if monitor.enabled else 'paused'}."
    )
    return done(request, reverse("manage:monitor-detail", args=[page.code, monitor.code]))


@page_member(role=Role.EDITOR)
@require_POST
def monitor_delete(request, page, monitor_code):
    monitor = get_object_or_404(Monitor, page=page, code=monitor_code)
    name = monitor.name
    monitors.remove(monitor, by=request.user)
    messages.success(request, f"Monitor “{name}” deleted.")
    return done(request, reverse("manage:monitors", args=[page.code]))
