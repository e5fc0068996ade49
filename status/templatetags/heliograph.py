from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from status.hosts import page_reverse

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
        date_format(local, "l, F j, Y, g:i:s A T (e)"),
        date_format(local, fmt),
    )


@register.simple_tag
def relative_time(value, tz, now=None):
    """'9 days ago' in a <time> element holding the exact instant in the page's time zone."""
    local = value.astimezone(tz)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        date_format(local, "l, F j, Y, g:i:s A T (e)"),
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


@register.simple_tag
def uptime_bars(uptime, label):
    """The day bars of one component as an inline SVG (no JavaScript; a <title> per day)."""
    days = uptime.days
    width = len(days) * (BAR_WIDTH + BAR_GAP) - BAR_GAP
    rects = format_html_join(
        "",
        '<rect x="{}" width="{}" height="{}" rx="1" class="day day-{}"><title>{}</title></rect>',
        (
            (i * (BAR_WIDTH + BAR_GAP), BAR_WIDTH, BAR_HEIGHT, day.status or "none", day.tooltip)
            for i, day in enumerate(days)
        ),
    )
    return format_html(
        '<svg class="uptime-bars" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img"'
        ' aria-label="{}">{}</svg>',
        width,
        BAR_HEIGHT,
        label,
        rects,
    )


@register.filter
def local_date(value, tz):
    if isinstance(value, datetime):
        value = value.astimezone(tz)
    return date_format(value, "M j, Y")


@register.simple_tag
def status_label(status):
    from status.models import ComponentStatus

    return mark_safe(  # noqa: S308 (label is one of our own constants)
        f'<span class="status status-{status}">{ComponentStatus(status).label}</span>'
    )
