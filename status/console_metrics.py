"""The console's system metrics (/manage/<page_code>/metrics/): the list with each metric's
latest value, adding one, editing it (name, unit, axis, shown or not), showing or hiding it in
one click, clearing its data and deleting it. The metrics themselves are status/models.py's
(Metric.record, clear_data) and status/metrics.py's; the API does the same through
status/api_metrics.py, where data points are sent."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from status.htmx import can_edit, confirm, done, render_form
from status.metrics import BACKFILL_DAYS, format_value
from status.models import Metric, Role
from status.tenancy import page_member


class MetricForm(forms.ModelForm):
    class Meta:
        model = Metric
        fields = ["name", "suffix", "tooltip_description", "decimal_places", "y_axis_min",
                  "y_axis_max", "y_axis_hidden", "display"]  # fmt: skip
        labels = {
            "suffix": "Unit",
            "tooltip_description": "Description",
            "y_axis_min": "Axis minimum",
            "y_axis_max": "Axis maximum",
            "y_axis_hidden": "Hide the axis values",
            "display": "Show it on the public page",
        }
        help_texts = {
            "suffix": 'Shown after each value, e.g. "ms" or "%".',
            "tooltip_description": "Optional; shown under the chart's name.",
            "decimal_places": "0 to 4.",
            "y_axis_min": "Optional; the chart's bottom. Blank: 0, or the lowest value.",
            "y_axis_max": "Optional; the chart's top. Blank: the highest value.",
            "display": "",
        }


def metrics_url(page, anchor=""):
    url = reverse("manage:metrics", kwargs={"page_code": page.code})
    return f"{url}#{anchor}" if anchor else url


@page_member(role=Role.VIEWER)
@require_GET
def metrics(request, page):
    found = list(Metric.objects.filter(page=page))
    for metric in found:
        metric.latest = (
            format_value(metric, metric.most_recent_value)
            if metric.most_recent_value is not None
            else None
        )
    context = {
        "page": page,
        "metrics": found,
        "can_edit": can_edit(page),
        "backfill_days": BACKFILL_DAYS,
        "api_url": request.build_absolute_uri(
            reverse("api-metrics", kwargs={"page_code": page.code})
        ),
    }
    return render(request, "manage/metrics/list.html", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def metric_create(request, page):
    data = request.POST if request.method == "POST" else None
    form = MetricForm(data, instance=Metric(page=page, source="api"))
    if form.is_valid():
        metric = form.save(commit=False).insert(by=request.user)
        messages.success(request, f"{metric.name} is added.")
        return done(request, metrics_url(page, f"metric-{metric.code}"))
    context = {"page": page, "form": form, "title": "Add a metric"}
    return render_form(request, "manage/metrics/form.html", "metric-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def metric_edit(request, page, metric_code):
    metric = get_object_or_404(Metric, page=page, code=metric_code)
    data = request.POST if request.method == "POST" else None
    form = MetricForm(data, instance=metric)
    if form.is_valid():
        metric = form.save(commit=False).save_audited(by=request.user)
        messages.success(request, f"{metric.name} is saved.")
        return done(request, metrics_url(page, f"metric-{metric.code}"))
    context = {"page": page, "form": form, "title": f"Edit {metric.name}", "metric": metric}
    return render_form(request, "manage/metrics/form.html", "metric-form", context)


@page_member(role=Role.EDITOR)
@require_POST
def metric_display(request, page, metric_code):
    """Show or hide the metric on the public page (`display` = "on" or anything else)."""
    metric = get_object_or_404(Metric, page=page, code=metric_code)
    metric.display = request.POST.get("display") == "on"
    metric.save_audited(by=request.user)
    shown = "shown on" if metric.display else "hidden from"
    messages.success(request, f"{metric.name} is {shown} the public page.")
    return done(request, metrics_url(page, f"metric-{metric.code}"))


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def metric_clear(request, page, metric_code):
    metric = get_object_or_404(Metric, page=page, code=metric_code)
    if request.method == "POST":
        metric.clear_data(by=request.user)
        messages.success(request, f"{metric.name}'s data is cleared.")
        return done(request, metrics_url(page, f"metric-{metric.code}"))
    return confirm(
        request,
        page,
        title=f"Clear the data of {metric.name}?",
        text="Every point and the charts made of them are deleted; the metric stays, and"
        " new points start a new chart. It cannot be undone.",
        button="Clear data",
        cancel=metrics_url(page, f"metric-{metric.code}"),
    )


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def metric_delete(request, page, metric_code):
    metric = get_object_or_404(Metric, page=page, code=metric_code)
    if request.method == "POST":
        try:
            metric.remove(by=request.user)
        except ValidationError as refusal:
            messages.error(request, " ".join(refusal.messages))
            return done(request, metrics_url(page, f"metric-{metric.code}"))
        messages.success(request, f"{metric.name} is deleted.")
        return done(request, metrics_url(page))
    return confirm(
        request,
        page,
        title=f"Delete {metric.name}?",
        text="The metric, its data and its chart on the public page are deleted; API clients"
        " sending it data get 404 from now on. It cannot be undone.",
        button=f"Delete {metric.name}",
        cancel=metrics_url(page, f"metric-{metric.code}"),
    )
