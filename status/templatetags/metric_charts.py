"""The status page's system metrics (templates/public/_metrics.html): a rendered card
(templates/public/_metric_card.html: day, week and month charts from status/metrics.py) per
displayed metric of the page, so the view needs nothing of its own for them.

Each card is kept in the cache (CARD_SECONDS) under the metric's id, its data version (bumped by
every write of points and by Clear data), its last edit (updated_at: name, unit, axis, …), the
five minutes the charts were drawn in, the language and the page's time zone: a regeneration of
the page (another component's change, a new point of another metric) reuses the charts whose
data did not change and reads the roll-ups only for the others."""

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from status.metrics import charts, format_value, svg_path, y_bounds
from status.models import Metric

register = template.Library()

# How long a rendered card is kept, and the steps in which its charts' time window moves (a card
# drawn at 12:01 is reused until 12:05: its window is at most five minutes behind).
CARD_SECONDS = 300


def card_key(metric, page, now):
    return ":".join(
        str(part)
        for part in (
            "metric-card",
            metric.pk,
            metric.data_version,
            metric.updated_at.timestamp(),
            int(now.timestamp()) // CARD_SECONDS,
            translation.get_language(),
            page.time_zone,
        )
    )


@register.simple_tag
def page_metric_cards(page, now=None):
    """The rendered cards (safe HTML) of the page's displayed metrics, in their order."""
    now = now or timezone.now()
    metrics = list(Metric.objects.filter(page=page).displayed())
    if not metrics:
        return []
    keys = {metric.pk: card_key(metric, page, now) for metric in metrics}
    found = cache.get_many(list(keys.values()))
    missing = [metric for metric in metrics if keys[metric.pk] not in found]
    drawn = {}
    for chart in charts(missing, now):
        chart.metric.page = page
        html = render_to_string(
            "public/_metric_card.html", {"chart": card_context(chart), "page": page}
        )
        drawn[keys[chart.metric.pk]] = html
    if drawn:
        cache.set_many(drawn, CARD_SECONDS)
    found.update(drawn)
    return [mark_safe(found[keys[metric.pk]]) for metric in metrics]  # noqa: S308 (our template's output)


def card_context(chart):
    """{metric, latest, latest_at, ranges: [{name, label, path, summary, axis_top, …}]}."""
    metric = chart.metric
    ranges = []
    for series in chart.series:
        low, high = y_bounds(metric, series)
        if series.buckets:
            summary = (
                f"minimum {format_value(metric, series.minimum)},"
                f" maximum {format_value(metric, series.maximum)},"
                f" average {format_value(metric, series.average)}"
            )
        else:
            summary = "no data"
        ranges.append(
            {
                "name": series.name,
                "label": series.label,
                "path": svg_path(metric, series),
                "has_data": bool(series.buckets),
                "summary": summary,
                "axis_top": format_value(metric, high),
                "axis_bottom": format_value(metric, low),
            }
        )
    return {
        "metric": metric,
        "latest": format_value(metric, chart.latest) if chart.latest is not None else None,
        "latest_at": chart.latest_at,
        "ranges": ranges,
    }
