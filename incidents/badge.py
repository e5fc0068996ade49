"""The status badge (badge.svg, shields-style) and the embeddable widget (embed/)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.translation import gettext, gettext_noop

from incidents.models import Incident, IncidentStatus, Kind
from incidents.queries import overall_status
from status.hosts import public_page

# Shields' colours per page indicator.
COLOURS = {
    "none": "#2e7d32",
    "minor": "#a15c00",
    "major": "#c2410c",
    "critical": "#b91c1c",
    "maintenance": "#1d4ed8",
}
LABEL = gettext_noop("status")


def text_width(text):
    """An estimate of the text's width in 11px Verdana, shields' font (no font metrics here)."""
    return int(sum(8.5 if c.isupper() else 6.5 for c in text)) + 10


def badge_svg(message, colour):
    label = gettext(LABEL)
    label_w, message_w = text_width(label), text_width(message)
    width = label_w + message_w
    label, message = escape(label), escape(message)
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" \
role="img" aria-label="{label}: {message}">
<title>{label}: {message}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="#555"/>\
<rect x="{label_w}" width="{message_w}" height="20" fill="{colour}"/>\
<rect width="{width}" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11">\
<text x="{label_w / 2}" y="14">{label}</text>\
<text x="{label_w + message_w / 2}" y="14">{message}</text></g>
</svg>
"""


def page_state(page):
    """The page's components, overall status and open incidents (three queries)."""
    _groups, components = page.groups_and_components()
    open_incidents = list(Incident.objects.filter(page=page).open().order_by("-started_at", "-id"))
    return open_incidents, overall_status(components, open_incidents)


# Framable, as the widget: a badge opened in an iframe shows.
@public_page(framable=True)
def badge(request, page):
    _open, overall = page_state(page)
    # In the visitor's language (status/languages.py), as the page.
    svg = badge_svg(gettext(overall.description), COLOURS[overall.indicator])
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


# Made to be framed by our customers' sites (the snippets in status/console.py).
@public_page(framable=True)
def embed(request, page):
    open_incidents, overall = page_state(page)
    context = {
        "page": page,
        "overall": overall,
        "incidents": [i for i in open_incidents if i.kind == Kind.INCIDENT],
        "maintenance": [
            i
            for i in open_incidents
            if i.kind == Kind.MAINTENANCE and i.status != IncidentStatus.SCHEDULED
        ],  # fmt: skip
    }
    return render(request, "public/embed.html", context)
