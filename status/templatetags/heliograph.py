import functools
import math
from datetime import timedelta
from urllib.parse import quote, urlencode

from django import template
from django.conf import settings
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.dateformat import format as date_format
from django.utils.formats import number_format
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_noop, ngettext, pgettext

from status import languages
from status.hosts import page_reverse
from status.models import ComponentStatus
from status.uptime import format_seconds

register = template.Library()


# Public pages repeat the same links and times on every render (a grown status page has dozens
# of each), and reverse() and Django's date formatting are slow: their results are kept per
# process, keyed by everything they depend on. Bounded: cleared when they grow.
_URL_MEMO = {}
_TIME_MEMO = {}
_MEMO_LIMIT = 20_000


def _remember(memo, key, value, limit=_MEMO_LIMIT):
    if len(memo) > limit:
        memo.clear()
    memo[key] = value
    return value


def forget_memos():
    """Forget what this module kept in this process (the benchmark's cold render)."""
    for memo in (_URL_MEMO, _TIME_MEMO, _DAY_MEMO, _LEGEND_MEMO):
        memo.clear()
    accent_style.cache_clear()


@register.simple_tag(takes_context=True)
def page_url(context, name, **kwargs):
    """The path of a public view of the current page, on whichever host serves the request."""
    request, page = context.get("request"), context["page"]
    key = (
        getattr(request, "page_host_id", None) == page.pk,
        page.slug,
        name,
        tuple(sorted(kwargs.items())),
        get_script_prefix(),
        settings.ROOT_URLCONF,
        settings.PAGE_HOST_URLCONF,
    )
    url = _URL_MEMO.get(key)
    if url is None:
        url = _remember(_URL_MEMO, key, page_reverse(request, page, name, **kwargs))
    return url


@register.simple_tag
def local_time(value, tz, fmt="M j, Y, g:i A T"):
    """A <time> element in the page's time zone, with the exact instant in `datetime`."""
    if value is None:
        return ""
    key = (value, str(tz), fmt, translation.get_language())
    markup = _TIME_MEMO.get(key)
    if markup is None:
        local = value.astimezone(tz)
        markup = format_html(
            '<time datetime="{}" title="{}">{}</time>',
            local.isoformat(timespec="seconds"),
            long_time(local),
            date_format(local, gettext(fmt)),
        )
        _remember(_TIME_MEMO, key, markup)
    return markup


@register.simple_tag
def local_period(start, end, tz, fmt):
    """'from 7:00 AM to 7:47 AM' in <time> elements, or 'at 7:00 AM' when both read the same."""
    if date_format(start.astimezone(tz), fmt) == date_format(end.astimezone(tz), fmt):
        # Translators: a moment of a component's timeline; {time} is a time of day.
        return format_html(gettext("at {time}"), time=local_time(start, tz, fmt))
    return format_html(
        # Translators: a period of a component's timeline; {start} and {end} are times of day.
        gettext("from {start} to {end}"),
        start=local_time(start, tz, fmt),
        end=local_time(end, tz, fmt),
    )


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


# The date formats public pages and notifications use (Django's `date` format characters): each
# language writes them its own way in its catalog.
DATE_FORMATS = (
    gettext_noop("M j, Y, g:i A T"),
    gettext_noop("M j, Y, g:i A"),
    gettext_noop("M j, Y"),
    gettext_noop("M j, g:i A"),
    gettext_noop("M j, g:i A T"),
    gettext_noop("g:i A"),
    gettext_noop("g:i A T"),
    gettext_noop("F Y"),
    gettext_noop("F j, Y, H:i e"),
    # The title of every time shown: its full date and time.
    gettext_noop("l, F j, Y, g:i:s A T"),
)


def long_time(local):
    """'Wednesday, April 1, 2026, 12:26:00 AM -05 (America/Guayaquil)', quickly: public pages
    show dozens of these."""
    zone = local.tzinfo.key if hasattr(local.tzinfo, "key") else "UTC"
    if translation.get_language() not in (None, "en", "en-us"):
        return f"{date_format(local, gettext('l, F j, Y, g:i:s A T'))} ({zone})"
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


def _days(n):
    return ngettext("%(count)d day", "%(count)d days", n) % {"count": n}


def _hours(n):
    return ngettext("%(count)d hour", "%(count)d hours", n) % {"count": n}


def _minutes(n):
    return ngettext("%(count)d minute", "%(count)d minutes", n) % {"count": n}


@register.filter
def human_duration(value):
    """'less than a minute', '12 minutes', '3 hours 5 minutes', '2 days 4 hours'."""
    if value is None:
        return ""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 60:
        return gettext("less than a minute")
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    # Translators: a duration of two parts, "2 days 4 hours", "3 hours 5 minutes".
    both = pgettext("duration", "%(larger)s %(smaller)s")
    if days:
        return both % {"larger": _days(days), "smaller": _hours(hours)} if hours else _days(days)
    if hours:
        if minutes:
            return both % {"larger": _hours(hours), "smaller": _minutes(minutes)}
        return _hours(hours)
    return _minutes(minutes)


@register.filter
def time_ago(value, now=None):
    """'less than a minute ago', '5 minutes ago', '9 days ago', '3 months ago'."""
    if value is None:
        return ""
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 0:
        # Translators: a moment to come, "in 3 hours".
        return gettext("in %(duration)s") % {"duration": human_duration(-seconds)}
    if seconds < 60:
        return gettext("less than a minute ago")
    days = seconds // 86400
    if days >= 365:
        n = days // 365
        return ngettext("%(count)d year ago", "%(count)d years ago", n) % {"count": n}
    if days >= 45:
        n = round(days / 30.4)
        return ngettext("%(count)d month ago", "%(count)d months ago", n) % {"count": n}
    if days:
        return ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}
    if seconds >= 3600:
        n = seconds // 3600
        return ngettext("%(count)d hour ago", "%(count)d hours ago", n) % {"count": n}
    n = seconds // 60
    return ngettext("%(count)d minute ago", "%(count)d minutes ago", n) % {"count": n}


@register.filter
def percent(value):
    """An uptime percentage as Statuspage shows it: 99.98 % (never rounded up to 100)."""
    if value is None:
        return gettext("no data")
    # Rounded to a millionth first: 92.5 can be 92.4999999… in floating point.
    floored = math.floor(round(value * 100, 6)) / 100
    if translation.get_language() in (None, "en", "en-us"):
        return f"{floored:.2f} %"
    return f"{number_format(floored, 2)} %"


# The fewer days phones show instead of squeezing 90 bars (heliograph.css hides the oldest days
# and shows the matching "N days ago" and percentage below these widths).
PHONE_RANGES = (60, 30)

# A day's markup depends only on its date, worst status and seconds per status, but for the
# links to its incidents: most days recur across components and renders (today's too: its
# counted seconds, which grow every second, are not shown), so their markup is built once, as
# (the markup up to the popover's end, to which links and _DAY_END are added; the markup
# without links). Bounded: cleared when it grows.
_DAY_MEMO = {}
_DAY_MEMO_LIMIT = 100_000
_DAY_END = "</div></li>"


def _day_markup(day):
    key = (
        translation.get_language(),
        day.date,
        day.status,
        day.major_seconds,
        day.partial_seconds,
        day.degraded_seconds,
        day.maintenance_seconds,
    )
    markup = _DAY_MEMO.get(key)
    if markup is None:
        markup = _remember(_DAY_MEMO, key, _build_day_markup(day), _DAY_MEMO_LIMIT)
    return markup


def _build_day_markup(day):
    english = translation.get_language() in (None, "en", "en-us")
    label = day.label if english else date_format(day.date, gettext("M j, Y"))
    if day.status is None:
        summary, lines = gettext("No data"), []
    else:
        lines = [
            f"{gettext(ComponentStatus(status).label)}: {_seconds(seconds, english)}"
            for status, seconds in day.durations
        ]
        summary = (
            gettext("No downtime")
            if day.status == ComponentStatus.OPERATIONAL
            else gettext(ComponentStatus(day.status).label)
        )
    # The button's name says it all (date, status, minutes) so that a screen reader reads it
    # on focus; the popover shows the same, and the links, which Tab reaches next.
    name = f"{label}: {summary}" + (f". {', '.join(lines)}" if lines else "")
    body = "".join(f"<p>{escape(line)}</p>" for line in lines or [summary])
    # Terse markup, classes left to heliograph.css's selectors: a page repeats it 9,000 times.
    # A bar is operational unless its class says otherwise (heliograph.css), so most days, the
    # operational ones, have no class.
    operational = day.status == ComponentStatus.OPERATIONAL
    kind = "" if operational else f' class="day-{day.status or "none"}"'
    button = f'<li{kind}><button aria-label="{escape(name)}"></button>'
    head = f"{button}<div><strong>{escape(label)}</strong>{body}"
    if lines:
        return head, head + _DAY_END
    # A calm day (no downtime, no data) has no popover of its own: its name is all it would
    # show, and heliograph.css draws that from the name (`button:only-child::after`). Most days
    # are calm (8,617 of the benchmark's 9,990): their <div>s were 29 % of the page's bytes.
    # With links to incidents, a calm day has its popover.
    return head, f"{button}</li>"


def _seconds(seconds, english):
    """status.uptime.format_seconds() ("1 h 5 min", "under 1 min") in the active language."""
    if english or seconds >= 60 or seconds <= 0:
        return format_seconds(seconds)
    return gettext("under 1 min")


def _incident_links(incidents, memo):
    """The popover's links to `incidents`; `memo` keeps them for the render, as an incident
    often spans days and components."""
    key = tuple(id(incident) for incident in incidents)
    links = memo.get(key)
    if links is None:
        items = "".join(
            f'<li><a href="{escape(incident.public_url)}">{escape(incident.name)}</a></li>'
            for incident in incidents
        )
        title = gettext("Incidents")
        links = memo[key] = f'<p class="day-incidents">{title}</p><ul>{items}</ul>'
    return links


@register.simple_tag(takes_context=True)
def uptime_bars(context, uptime, label, incidents=None):
    """The day bars of one component or group: a list of days, each a button (its accessible
    name the date, status and minutes) and a popover with the minutes per status and links
    to the day's incidents, shown on hover and on focus by CSS alone (public pages run no
    script); a calm day (no minutes, no links) has only its button, whose name CSS shows as
    its popover. `incidents` is {day index: [incident]}, each with `name` and `public_url`.

    A page shows up to 100 × 90 days, so this is built with plain string operations. Days
    without events are shared objects (status.uptime), so within one render their markup is
    found by identity, cheaper than hashing the day.
    """
    parts = day_parts(context, uptime.days, incidents)
    return mark_safe(  # noqa: S308 (our class names and labels, and escaped text only)
        f'<ol class="uptime-days" aria-label="{escape(label)}">{"".join(parts)}</ol>'
    )


def day_parts(context, days, incidents=None):
    """The markup of each of `days` (a list of Days), with the links of `incidents`, {index in
    `days`: [incident]}: the <li>s of uptime_bars()."""
    by_id = context.render_context.setdefault("uptime_bars", {})
    parts = []
    for day in days:
        markup = by_id.get(id(day))
        if markup is None:
            markup = by_id[id(day)] = _day_markup(day)
        parts.append(markup[1])
    if incidents:
        links = context.render_context.setdefault("uptime_links", {})
        for i, listed in incidents.items():
            if i < len(parts):
                head = by_id[id(days[i])][0]
                parts[i] = f"{head}{_incident_links(listed, links)}{_DAY_END}"
    return parts


@register.simple_tag
def uptime_legend(uptime):
    """Under the bars: "N days ago", the uptime percentage over those days, and "Today", for
    all the days and for each of the phones' ranges (CSS shows the one that fits)."""
    total = len(uptime.days)
    ranges = [(total, uptime.percent)] + [
        (days, uptime.percent_over(days)) for days in PHONE_RANGES if days < total
    ]
    return legend_markup(ranges)


def legend_markup(ranges):
    """uptime_legend()'s markup for [(days, uptime percentage or None)], all days first."""
    # Kept by what it shows: most legends recur from one render to the next.
    shown = tuple(
        (
            days,
            gettext("No data yet")
            if value is None
            else gettext("%(percent)s uptime") % {"percent": percent(value)},
        )
        for days, value in ranges
    ) + (translation.get_language(),)
    markup = _LEGEND_MEMO.get(shown)
    if markup is None:
        ago = "".join(
            f'<span class="range-{days}">'
            + ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}
            + "</span>"
            for days, _ in shown[:-1]
        )
        uptimes = "".join(f'<span class="range-{days}">{text}</span>' for days, text in shown[:-1])
        today = gettext("Today")
        markup = mark_safe(  # noqa: S308 (numbers and our own words only)
            f'<div class="uptime-legend muted small"><span>{ago}</span><span>{uptimes}</span>'
            f"<span>{today}</span></div>"
        )
        _remember(_LEGEND_MEMO, shown, markup)
    return markup


_LEGEND_MEMO = {}


@register.simple_tag
def status_label(status):
    key = (status, translation.get_language())
    markup = _STATUS_LABELS.get(key)
    if markup is None:
        markup = _STATUS_LABELS[key] = mark_safe(  # noqa: S308 (one of our own labels)
            f'<span class="status status-{status}">{gettext(ComponentStatus(status).label)}</span>'
        )
    return markup


# {(status, language): its label's markup}: a handful of entries.
_STATUS_LABELS = {}


# The page's accent colour made readable in each theme (WCAG AA, 4.5:1): the backgrounds it
# is text on (static/css/heliograph.css: --bg and --surface, light and dark), and the text
# colours that go on it as a button.
LIGHT_BACKGROUNDS = ("#f7f8fa", "#ffffff")
DARK_BACKGROUNDS = ("#11151a", "#1a2028")
ON_ACCENT = ("#ffffff", "#10141a")
AA = 4.5


def _rgb(colour):
    colour = colour.lstrip("#")
    return tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))


def _luminance(rgb):
    def channel(value):
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(one, other):
    lighter, darker = sorted((_luminance(_rgb(one)), _luminance(_rgb(other))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _mix(colour, towards, share):
    mixed = (round(a + (b - a) * share) for a, b in zip(_rgb(colour), _rgb(towards), strict=True))
    return "#" + "".join(f"{value:02x}" for value in mixed)


def readable_on(colour, backgrounds, towards):
    """`colour`, mixed towards `towards` (black or white) only as much as it takes to read at
    AA on every one of `backgrounds`."""
    for step in range(21):
        candidate = _mix(colour, towards, step / 20)
        if all(contrast(candidate, background) >= AA for background in backgrounds):
            return candidate
    return towards


def text_on(colour):
    return max(ON_ACCENT, key=lambda text: contrast(text, colour))


@register.simple_tag
@functools.lru_cache(maxsize=1024)  # every public page's head: the same few colours each time
def accent_style(colour):
    """The CSS custom properties of a page's accent, for light and dark themes: its links and
    buttons stay readable whatever colour its owner chose."""
    light = readable_on(colour, LIGHT_BACKGROUNDS, "#000000")
    dark = readable_on(colour, DARK_BACKGROUNDS, "#ffffff")
    return format_html(
        ":root {{ --accent: {}; --accent-text: {}; }}"
        " @media (prefers-color-scheme: dark) {{ :root {{ --accent: {}; --accent-text: {}; }} }}",
        light,
        text_on(light),
        dark,
        text_on(dark),
    )


@register.simple_tag(takes_context=True)
def language_switcher(context):
    """Links to the page in each language it offers (status/language_views.py remembers the
    choice in a cookie), the current one marked; nothing when it offers one only."""
    request, page = context.get("request"), context["page"]
    offered = languages.names(page.languages)
    if len(offered) < 2 or request is None:
        return ""
    current = translation.get_language()
    target = page_url(context, "language")
    # Back to this page: its path below the page's root (status/language_views.py).
    root = page_url(context, "page")
    here = request.path[len(root) :] if request.path.startswith(root) else ""
    links = []
    for code, name in offered:
        if code == current:
            links.append(format_html('<span lang="{}" aria-current="true">{}</span>', code, name))
        else:
            query = {"lang": code, **({"next": here} if here else {})}
            href = f"{target}?{urlencode(query, safe='/', quote_via=quote)}"
            links.append(
                format_html('<a href="{}" lang="{}" hreflang="{}">{}</a>', href, code, code, name)
            )
    return format_html(
        '<nav class="languages" aria-label="{}">{}</nav>',
        gettext("Language"),
        mark_safe(" · ".join(links)),  # noqa: S308 (format_html's escaped links)
    )


@register.simple_tag(takes_context=True)
def language_alternates(context):
    """<link rel="alternate" hreflang> of the page in each language it offers (`?lang=` names
    one outright), and x-default: the page as its visitors' language chooses it."""
    request, page = context.get("request"), context["page"]
    if request is None or len(page.languages) < 2:
        return ""
    base = request.build_absolute_uri(request.path)
    links = [
        format_html(
            '<link rel="alternate" hreflang="{}" href="{}?{}">',
            code,
            base,
            urlencode({languages.QUERY_PARAMETER: code}),
        )
        for code, _name in languages.names(page.languages)
    ]
    links.append(format_html('<link rel="alternate" hreflang="x-default" href="{}">', base))
    return mark_safe("\n  ".join(links))  # noqa: S308 (format_html's escaped links)
