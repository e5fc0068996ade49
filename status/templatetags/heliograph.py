from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from status.hosts import page_reverse
from status.models import ComponentStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def page_url(context, name, **kwargs):
    """The path of a public view of the current page, on whichever host serves the request."""
    return page_reverse(context.get("request"), context["page"], name, **kwargs)


@register.simple_tag
def local_time(value, tz, fmt="M j, Y, g:i A T"):
    """A <time> element in the page's time zone, with the exact instant in `datetime`."""
    if value is None:
        return ""
    local = value.astimezone(tz)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        long_time(local),
        date_format(local, fmt),
    )


@register.simple_tag
def local_period(start, end, tz, fmt):
    """'from 7:00 AM to 7:47 AM' in <time> elements, or 'at 7:00 AM' when both read the same."""
    if date_format(start.astimezone(tz), fmt) == date_format(end.astimezone(tz), fmt):
        return format_html("at {}", local_time(start, tz, fmt))
    return format_html("from {} to {}", local_time(start, tz, fmt), local_time(end, tz, fmt))


@register.simple_tag
def local_window(start, end, tz):
    """A maintenance window: 'Mar 17, 2026, 1:00 AM – 3:00 AM -05', the date and zone once
    when it ends the day it starts (in the same offset: not across a change of clocks)."""
    if start is None or end is None:
        return local_time(start or end, tz)
    start_local, end_local = start.astimezone(tz), end.astimezone(tz)
    if (start_local.date(), start_local.utcoffset()) == (end_local.date(), end_local.utcoffset()):
        return format_html(
            "{} – {}", local_time(start, tz, "M j, Y, g:i A"), local_time(end, tz, "g:i A T")
        )
    return format_html("{} – {}", local_time(start, tz), local_time(end, tz))


def long_time(local):
    """'Wednesday, April 1, 2026, 12:26:00 AM -05 (America/Guayaquil)', quickly: public pages
    show dozens of these."""
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return (
        f"{local:%A, %B} {local.day}, {local.year}, {hour}:{local:%M:%S} {meridiem}"
        f" {local.tzname()} ({local.tzinfo.key if hasattr(local.tzinfo, 'key') else 'UTC'})"
    )


@register.simple_tag
def relative_time(value, tz, now=None):
    """'9 days ago' in a <time> element holding the exact instant in the page's time zone."""
    local = value.astimezone(tz)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        long_time(local),
        time_ago(value, now),
    )


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


@register.filter
def human_duration(value):
    """'less than a minute', '12 minutes', '3 hours 5 minutes', '2 days 4 hours'."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 60:
        return "less than a minute"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return plural(days, "day") + (f" {plural(hours, 'hour')}" if hours else "")
    if hours:
        return plural(hours, "hour") + (f" {plural(minutes, 'minute')}" if minutes else "")
    return plural(minutes, "minute")


@register.filter
def time_ago(value, now=None):
    """'less than a minute ago', '5 minutes ago', '9 days ago', '3 months ago'."""
    if value is None:
        return ""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 0:
        return "in " + human_duration(-seconds)
    if seconds < 60:
        return "less than a minute ago"
    days = seconds // 86400
    if days >= 365:
        return plural(days // 365, "year") + " ago"
    if days >= 45:
        return plural(round(days / 30.4), "month") + " ago"
    if days:
        return plural(days, "day") + " ago"
    if seconds >= 3600:
        return plural(seconds // 3600, "hour") + " ago"
    return plural(seconds // 60, "minute") + " ago"


@register.filter
def percent(value):
    """An uptime percentage as Statuspage shows it: 99.98 % (never rounded up to 100)."""
    if value is None:
        return "no data"
    floored = int(value * 100) / 100
    return f"{floored:.2f} %"


BAR_WIDTH, BAR_GAP, BAR_HEIGHT = 3, 2, 34
BAR_STEP = BAR_WIDTH + BAR_GAP


# A day's bar markup depends only on the (frozen, hashable) Day; most days recur across
# components and renders, so their markup is built once. Bounded: cleared when it grows.
_BAR_MEMO = {}
_BAR_MEMO_LIMIT = 100_000
_RECT_X = [f'<rect x="{i * BAR_STEP}"' for i in range(400)]


def _bar_tail(day):
    tail = _BAR_MEMO.get(day)
    if tail is None:
        if len(_BAR_MEMO) > _BAR_MEMO_LIMIT:
            _BAR_MEMO.clear()
        tail = _BAR_MEMO[day] = (
            f' width="{BAR_WIDTH}" height="{BAR_HEIGHT}" class="day day-{day.status or "none"}">'
            f"<title>{escape(day.tooltip)}</title></rect>"
        )
    return tail


@register.simple_tag(takes_context=True)
def uptime_bars(context, uptime, label):
    """The day bars of one component as an inline SVG (no JavaScript; a <title> per day).

    A page shows up to 100 × 90 bars, so this is built with plain string operations. Days
    without events are shared objects (status.uptime), so within one render their markup is
    found by identity, which is cheaper than hashing the day's values.
    """
    by_id = context.render_context.setdefault("uptime_bars", {})
    parts = []
    for x, day in zip(_RECT_X, uptime.days, strict=False):
        tail = by_id.get(id(day))
        if tail is None:
            tail = by_id[id(day)] = _bar_tail(day)
        parts.append(x + tail)
    width = len(uptime.days) * BAR_STEP - BAR_GAP
    return mark_safe(  # noqa: S308 (numbers, our class names, and escaped tooltips only)
        f'<svg class="uptime-bars" viewBox="0 0 {width} {BAR_HEIGHT}" preserveAspectRatio="none"'
        f' role="img" aria-label="{escape(label)}">{"".join(parts)}</svg>'
    )


@register.simple_tag
def status_label(status):
    return mark_safe(  # noqa: S308 (label is one of our own constants)
        f'<span class="status status-{status}">{ComponentStatus(status).label}</span>'
    )
