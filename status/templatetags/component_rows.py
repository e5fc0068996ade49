"""The status page's component rows, built in Python (templates/public/_components.html).

A grown page has 100 components of 90 days each: as a template loop their rows were a third of
an uncached render. Here each row is one f-string, and a component's bars are reused from an
earlier render while its days show the same (Uptime.key: the counted days, unchanged for
finished days) with the same incident links: an uncached render after a write to one
component rebuilds that component's bars only. The markup is heliograph's uptime_bars' and
uptime_legend's, byte for byte (tests/status/test_uptime_render.py).
"""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from status.templatetags.heliograph import status_label, uptime_bars, uptime_legend

register = template.Library()

# (label, Uptime.key, links) -> the bars' markup. Bounded: cleared when it grows.
_BARS_MEMO = {}
_BARS_MEMO_LIMIT = 5_000


def _links_key(incidents):
    if not incidents:
        return ()
    return tuple(
        (i, tuple((incident.pk, incident.name, incident.public_url) for incident in listed))
        for i, listed in sorted(incidents.items())
    )


@register.simple_tag(takes_context=True)
def remembered_uptime_bars(context, uptime, label, incidents=None):
    """uptime_bars(), remembered across renders for the same days, label and links."""
    if uptime.key is None:
        return uptime_bars(context, uptime, label, incidents)
    key = (label, uptime.key, _links_key(incidents))
    markup = _BARS_MEMO.get(key)
    if markup is None:
        if len(_BARS_MEMO) > _BARS_MEMO_LIMIT:
            _BARS_MEMO.clear()
        markup = _BARS_MEMO[key] = uptime_bars(context, uptime, label, incidents)
    return markup


@register.simple_tag(takes_context=True)
def component_rows(context, components):
    """The <li> of each component: name, description, status, and its bars and legend when it
    has an uptime, as the template loop this replaces wrote them (whitespace included)."""
    rows = []
    for component in components:
        description = (
            f' <span class="muted small">– {escape(component.description)}</span>'
            if component.description
            else ""
        )
        uptime = getattr(component, "uptime", None)
        bars = ""
        if uptime:
            label = f"{component.name} uptime, one bar per day"
            incidents = getattr(component, "day_incidents", None)
            bars = (
                '\n  <div class="uptime">\n    '
                f"{remembered_uptime_bars(context, uptime, label, incidents)}\n    "
                f"{uptime_legend(uptime)}\n  </div>\n  "
            )
        rows.append(
            '\n<li class="component">\n  <div class="component-head">\n    <span class="name">'
            f"{escape(component.name)}{description}</span>\n    "
            f"{status_label(component.status)}\n  </div>\n  {bars}\n</li>\n      "
        )
    return mark_safe("".join(rows))  # noqa: S308 (escaped names and our own markup only)
