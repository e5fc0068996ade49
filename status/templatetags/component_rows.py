"""The status page's component rows and group bars, built in Python
(templates/public/_components.html).

A grown page has 100 components of 90 days each, and all but today of those days are finished:
they show the same until a write changes them. So the markup of a bar's finished days is built
once and kept, in this process and in the shared cache, under a key made of what it shows
(status.uptime.today_and_keys: the counted days, the history start, an open period begun before
today, the window and time zone) with its label, its incident links and the language; only
today's day and the percentages are rendered on each request. The key changing is what
refreshes a kept bar: a backfill, an edited or deleted period, a rename, a new incident link
all make a new key, and the old entry is never read again. The markup is uptime_bars' and
uptime_legend's, byte for byte (tests/status/test_uptime_render.py).
"""

import hashlib
from html import escape  # django.utils.html.escape's escaping, without its lazy-string wrapper
from itertools import chain
from pathlib import Path

from django import template
from django.core.cache import cache
from django.utils import translation
from django.utils.safestring import mark_safe

from status import models as status_models
from status import uptime
from status.templatetags import heliograph
from status.templatetags.heliograph import (
    _DAY_END,
    PHONE_RANGES,
    _day_markup,
    _incident_links,
    day_parts,
    legend_markup,
    status_label,
)
from status.uptime import _merge_days, _percent, daily_uptime

register = template.Library()

# Finished days' key -> (their markup, their sums), see prepare_uptime_bars(). Bounded: cleared
# when it grows.
_FINISHED = {}
_FINISHED_LIMIT = 5_000
# How long the shared cache keeps a bar's finished days: its key names the day, so it is not
# read after the next midnight anyway.
FINISHED_SECONDS = 2 * 86400
# The code that writes the markup is part of the key too: after a deploy that changes it, the
# shared cache's old markup is not read again.
MARKUP_CODE = hashlib.blake2b(
    b"".join(Path(module.__file__).read_bytes() for module in (heliograph, status_models, uptime))
    + Path(__file__).read_bytes(),
    digest_size=8,
).hexdigest()


def _links_key(incidents, last, memo):
    """What the links of the finished days (index below `last`) of {day index: [incident]}
    show; `memo` keeps each incident's part for the render (an incident spans components)."""
    if not incidents:
        return ()
    parts = []
    for i, listed in sorted(incidents.items()):
        if i >= last:
            continue
        shown = []
        for incident in listed:
            part = memo.get(id(incident))
            if part is None:
                part = memo[id(incident)] = (incident.pk, incident.name, incident.public_url)
            shown.append(part)
        parts.append((i, tuple(shown)))
    return tuple(parts)


def forget_finished():
    """Forget this process's finished days (the benchmark's cold render; tests)."""
    _FINISHED.clear()


def _ranges(total):
    return [total] + [days for days in PHONE_RANGES if days < total]


def _sums(days, total):
    """{range: [major, partial, counted seconds]} of `days` (the finished ones) within each
    range of the legend, counted back from today."""
    sums = {}
    for length in _ranges(total):
        major = partial = counted = 0
        for day in days[len(days) - (length - 1) :] if length > 1 else ():
            major += day.major_seconds
            partial += day.partial_seconds
            counted += day.counted_seconds
        sums[length] = [major, partial, counted]
    return sums


def _finished_entry(context, days, links, total):
    """(markup of the finished `days`, their sums) for the kept fragment."""
    return "".join(day_parts(context, days, links)), _sums(days, total)


def _cache_key(key):
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    return f"uptime-finished:{MARKUP_CODE}:{digest}"


@register.simple_tag(takes_context=True)
def prepare_uptime_bars(context, sections):
    """Give each component and group of `sections` with a bar its markup (`bars_html`): the
    finished days' markup kept (this process, else one round trip to the shared cache for all
    of them, else built from daily_uptime() in one query) followed by today's."""
    days_total = context["uptime_days"]
    language = translation.get_language()
    last = days_total - 1
    links_memo = {}

    # key -> [(kind, item)]: two components can show the same (same name, same days).
    wanted = {}
    for group, members in sections:
        shown = [c for c in members if getattr(c, "bars", None) is not None]
        for component in shown:
            component.finished_key = key = (
                "component", language, component.name, component.bars.key,
                _links_key(component.day_incidents, last, links_memo),
            )  # fmt: skip
            wanted.setdefault(key, []).append(("component", component))
        if group is not None and shown:
            group.shown = shown
            group.finished_key = key = (
                "group", language, group.name, tuple(c.bars.key for c in shown),
                _links_key(group.day_incidents, last, links_memo),
            )  # fmt: skip
            wanted.setdefault(key, []).append(("group", group))
    if not wanted:
        return ""

    found = {}
    missing = []
    for key in wanted:
        entry = _FINISHED.get(key)
        if entry is None:
            missing.append(key)
        else:
            found[key] = entry
    if missing:
        names = {_cache_key(key): key for key in missing}
        for name, entry in cache.get_many(list(names)).items():
            found[names[name]] = _FINISHED[names[name]] = entry
        missing = [key for key in missing if key not in found]
    if missing:
        keep = context.render_context.setdefault("uptime_keep", [])  # Days' ids stay unique
        built = _build(
            context,
            [wanted[key][0] for key in missing],
            days_total,
            context["page"].tz,
            context["now"],
            keep,
        )
        if len(_FINISHED) + len(built) > _FINISHED_LIMIT:
            _FINISHED.clear()
        _FINISHED.update(built)
        found.update(built)
        cache.set_many({_cache_key(key): entry for key, entry in built.items()}, FINISHED_SECONDS)

    today_links = context.render_context.setdefault("uptime_links", {})
    for kind, item in chain.from_iterable(wanted.values()):
        markup, sums = item.finished_entry = found[item.finished_key]
        if kind == "component":
            today = item.bars.today
            label = f"{item.name} uptime, one bar per day"
        else:
            today = _merge_days([c.bars.today for c in item.shown])
            label = f"{item.name} uptime, the worst of its components each day"
        ranges = []
        for length, (major, partial, counted) in sums.items():
            if length == days_total and kind == "group":
                # All the days: the components' own totals, weighed by their counted seconds
                # (status.uptime.group_uptime), not the merged days'.
                major = partial = counted = 0
                for c in item.shown:
                    c_major, c_partial, c_counted = c.finished_entry[1][days_total]
                    c_today = c.bars.today
                    major += c_major + c_today.major_seconds
                    partial += c_partial + c_today.partial_seconds
                    counted += c_counted + c_today.counted_seconds
            else:
                major += today.major_seconds
                partial += today.partial_seconds
                counted += today.counted_seconds
            ranges.append((length, _percent(major, partial, counted)))
        head, today_markup = _day_markup(today)
        listed = item.day_incidents.get(last)
        if listed:
            today_markup = f"{head}{_incident_links(listed, today_links)}{_DAY_END}"
        item.bars_html = mark_safe(  # noqa: S308 (escaped label, and markup built as uptime_bars')
            f'<ol class="uptime-days" aria-label="{escape(label)}">{markup}{today_markup}</ol>'
        )
        item.legend_html = legend_markup(ranges)
    return ""


def _build(context, items, days_total, tz, now, keep):
    """{finished key: (markup, sums)} of `items` [(kind, component or group)], from their days
    (one query for all the components involved)."""
    components = {}
    for kind, item in items:
        for component in [item] if kind == "component" else item.shown:
            components[component.pk] = component
    uptimes = daily_uptime(components.values(), days=days_total, tz=tz, now=now)
    keep.append(uptimes)
    last = days_total - 1
    built = {}
    for kind, item in items:
        if kind == "component":
            days = uptimes[item.pk].days[:last]
        else:
            member_days = [uptimes[c.pk].days[:last] for c in item.shown]
            days = [_merge_days(same) for same in zip(*member_days, strict=True)]
            keep.append(days)
        finished = {i: listed for i, listed in item.day_incidents.items() if i < last}
        built[item.finished_key] = _finished_entry(context, days, finished, days_total)
    return built


@register.simple_tag(takes_context=True)
def component_rows(context, components):
    """The <li> of each component: name, description, status, and its bars and legend when it
    has them, as the template loop this replaces wrote them (whitespace included)."""
    rows = []
    for component in components:
        description = (
            f' <span class="muted small">– {escape(component.description)}</span>'
            if component.description
            else ""
        )
        bars = ""
        if getattr(component, "bars_html", None) is not None:  # prepare_uptime_bars() set it
            bars = (
                '\n  <div class="uptime">\n    '
                f"{component.bars_html}\n    "
                f"{component.legend_html}\n  </div>\n  "
            )
        rows.append(
            '\n<li class="component">\n  <div class="component-head">\n    <span class="name">'
            f"{escape(component.name)}{description}</span>\n    "
            f"{status_label(component.status)}\n  </div>\n  {bars}\n</li>\n      "
        )
    return mark_safe("".join(rows))  # noqa: S308 (escaped names and our own markup only)
