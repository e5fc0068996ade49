"""The public pages: status page, incident page and history.

Each runs a fixed number of SQL queries, whatever the number of components, days of history or
incidents (tests/incidents/test_query_counts.py), and is cached whole (status/pagecache.py).
"""

from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from incidents.models import CLOSED_STATUSES, Incident, IncidentStatus, IncidentUpdate, Kind
from incidents.queries import (
    incident_timelines,
    incidents_by_day,
    label_updates,
    merge_incidents_by_day,
    merge_timelines,
    open_incidents,
    overall_status,
    with_updates,
)
from status.hosts import LIVE_REFRESH_HEADER, page_reverse, public_page
from status.models import Component, ComponentStatus, worst_status
from status.tenancy import public_view
from status.uptime import today_and_keys

UPTIME_DAYS = 90
PAST_DAYS = 14
# How often a page with an incident or maintenance going on refreshes itself (static/js/live.js).
LIVE_REFRESH_SECONDS = 30
MONTHS_PER_HISTORY_PAGE = 3


@public_page
def status_page(request, page):
    now = timezone.now()
    tz = page.tz
    groups, components = page.groups_and_components()
    today = now.astimezone(tz).date()
    since = datetime.combine(today - timedelta(days=PAST_DAYS - 1), time.min, tzinfo=tz)
    incidents = list(
        Incident.objects.filter(page=page)
        .recent(since)
        .prefetch_related(
            Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
        )
        .order_by("-started_at", "-id")
    )
    for incident in incidents:
        label_updates(incident.updates.all())
    open_incidents = [i for i in incidents if i.status not in CLOSED_STATUSES]
    # The cards of open incidents name the components affected; the past ones do not.
    prefetch_related_objects(
        open_incidents, Prefetch("components", queryset=Component.objects.only("id", "name"))
    )

    visible = [
        c
        for c in components
        if not (c.only_show_if_degraded and c.status == ComponentStatus.OPERATIONAL)
    ]
    # Today's day and the key of the finished days of each bar: the finished days' markup is
    # kept (templatetags/component_rows.py) and read from its days only when the key is new.
    bars = today_and_keys([c for c in visible if c.showcase], days=UPTIME_DAYS, tz=tz, now=now)
    # The incidents each day's popover links to, from one query for all the days.
    day_incidents = (
        incidents_by_day(page, today - timedelta(days=UPTIME_DAYS - 1), UPTIME_DAYS, tz, now)
        if bars
        else {}
    )
    if day_incidents:
        # One reverse() for all the links: only the code differs.
        placeholder = "0" * 12
        head, tail = page_reverse(request, page, "incident", code=placeholder).rsplit(
            placeholder, 1
        )
        linked = {
            i.pk: i for by_day in day_incidents.values() for day in by_day.values() for i in day
        }
        for incident in linked.values():
            incident.public_url = f"{head}{incident.code}{tail}"
    for component in visible:
        component.bars = bars.get(component.pk)
        component.day_incidents = day_incidents.get(component.pk, {})
    sections = group_sections(groups, visible)
    for group, members in sections:
        if group is not None:
            # The group's own bar: each day the worst of its components with a bar.
            shown = [c for c in members if c.bars is not None]
            group.day_incidents = merge_incidents_by_day(c.day_incidents for c in shown)

    past_days = []
    closed = [i for i in incidents if i.status in CLOSED_STATUSES]
    for offset in range(PAST_DAYS):
        day = today - timedelta(days=offset)
        past_days.append((day, [i for i in closed if i.started_at.astimezone(tz).date() == day]))

    context = {
        "page": page,
        "now": now,
        "has_components": bool(components),
        "overall": overall_status(components, open_incidents),
        "active_incidents": [i for i in open_incidents if i.kind == Kind.INCIDENT],
        "active_maintenance": [
            i for i in open_incidents if i.kind == Kind.MAINTENANCE and i.status != "scheduled"
        ],
        "upcoming_maintenance": sorted(
            (i for i in open_incidents if i.status == "scheduled"), key=lambda i: i.scheduled_for
        ),
        "sections": sections,
        "past_days": past_days,
        "uptime_days": UPTIME_DAYS,
    }
    # While something is going on, the page refreshes its live parts by itself.
    if context["active_incidents"] or context["active_maintenance"]:
        context["live_refresh"] = LIVE_REFRESH_SECONDS
    response = render(request, "public/status_page.html", context)
    if "live_refresh" in context:
        response[LIVE_REFRESH_HEADER] = str(LIVE_REFRESH_SECONDS)
    return response


def group_sections(groups, components):
    """[(group or None, [components])] in display order; groups with nothing visible go."""
    by_group = {group.pk: [] for group in groups}
    ungrouped = []
    for component in components:
        by_group.get(component.group_id, ungrouped).append(component)
    sections = [(None, ungrouped)] if ungrouped else []
    for group in groups:
        members = by_group[group.pk]
        if members:
            group.status = worst_status(c.status for c in members)
            sections.append((group, members))
    return sections


@public_page
def incident_page(request, page, code):
    incident = with_updates(Incident.objects.filter(page=page, code=code)).first()
    if incident is None:
        raise Http404("No such incident")
    now = timezone.now()
    groups, components = page.groups_and_components()
    open_now = open_incidents(page)
    updates = label_updates(list(incident.updates.all()))

    start = incident.started_at
    end = incident.resolved_at if incident.is_closed and incident.resolved_at else now
    end = max(end, start)
    affected_ids = set(incident.components.values_list("pk", flat=True))
    affected = [c for c in components if c.pk in affected_ids]
    said = incident_timelines(updates, start, end)
    timelines = {c.pk: said.get(c.pk, []) for c in affected}
    group_by_id = {g.pk: g for g in groups}
    affected_sections = []
    for group_id in dict.fromkeys(c.group_id for c in affected):
        members = [c for c in affected if c.group_id == group_id]
        for c in members:
            c.timeline = timelines[c.pk]
        group = group_by_id.get(group_id)
        if group is not None:
            group.timeline = merge_timelines([timelines[c.pk] for c in members], start, end)
        affected_sections.append((group, members))

    context = {
        "page": page,
        "now": now,
        "incident": incident,
        "updates": updates,
        "overall": overall_status(components, open_now),
        "affected_sections": affected_sections,
        "duration": end - start,
        "window_end": end,
        "ongoing": not incident.is_closed and start <= now,
        # Maintenance closed before it started.
        "cancelled": incident.is_maintenance
        and incident.is_closed
        and all(u.status != IncidentStatus.IN_PROGRESS for u in updates),
        # Times of day alone, unless the incident crosses midnight in the page's time zone.
        "timeline_format": (
            "g:i A"
            if start.astimezone(page.tz).date() == end.astimezone(page.tz).date()
            else "M j, g:i A"
        ),
    }
    return render(request, "public/incident.html", context)


@public_page(reads=("page",))
def history(request, page):
    tz = page.tz
    today = timezone.now().astimezone(tz).date()
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    try:
        newest = shift_month(
            date(today.year, today.month, 1), -(number - 1) * MONTHS_PER_HISTORY_PAGE
        )
        months = [shift_month(newest, -i) for i in range(MONTHS_PER_HISTORY_PAGE)]
        start = datetime.combine(months[-1], time.min, tzinfo=tz)
        end = datetime.combine(shift_month(newest, 1), time.min, tzinfo=tz)
        # January of the year 1 in a zone ahead of UTC starts in the year 0 in UTC: no datetime.
        start.astimezone(UTC)
    except (ValueError, OverflowError):
        # A page number past the year 1 (or too large for a date at all).
        raise Http404("No history that far back") from None
    shown = Incident.objects.filter(page=page).exclude(status=IncidentStatus.SCHEDULED)
    incidents = list(
        shown.filter(started_at__gte=start, started_at__lt=end).order_by("-started_at", "-id")
    )
    older = shown.filter(started_at__lt=start).exists()
    if number > 1 and not incidents and not older:
        # Past the page of the oldest incident (page 1 is there even when history is empty).
        raise Http404("No history that far back")
    by_month = [
        (month, [i for i in incidents if month_of(i.started_at.astimezone(tz)) == month])
        for month in months
    ]
    context = {
        "page": page,
        "now": timezone.now(),
        "by_month": by_month,
        "number": number,
        "newer": number - 1 if number > 1 else None,
        "older": number + 1 if older else None,
    }
    return render(request, "public/history.html", context)


def month_of(moment):
    return date(moment.year, moment.month, 1)


def shift_month(first_of_month, months):
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@public_view
@require_safe
@cache_control(public=True, max_age=86400)
def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for whatever the page links: our icon,
    on the main site and on every page's host. Not permanent: the static file's name changes
    with its content."""
    return redirect(static("favicon.svg"))
