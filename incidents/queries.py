"""Reads that more than one outlet needs (public pages, API v2, console, webhook bodies)."""

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Prefetch, Q

from incidents.models import (
    CLOSED_STATUSES,
    ComponentImpact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Kind,
)
from status.models import OverallStatus, worst_status


def overall_status(components, open_incidents):
    return OverallStatus(
        [c.status for c in components],
        [i.impact for i in open_incidents if i.kind == Kind.INCIDENT],
        any(i.status in ("in_progress", "verifying") for i in open_incidents),
    )


def with_updates(queryset):
    return queryset.prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
                Prefetch("impacts", queryset=ComponentImpact.objects.select_related(None))
            ),
        )
    )


def label_updates(updates):
    """Each update's label: its status, or "Update" when it did not change the status."""
    previous = None
    for update in reversed(updates):
        update.label = update.get_status_display() if update.status != previous else "Update"
        previous = update.status
    return updates


def page_overall_status(page):
    """The page's indicator from the database (two queries)."""
    return overall_status(
        page.components.only("status"),
        Incident.objects.filter(page=page).open().only("kind", "status", "impact"),
    )


def open_incidents(page):
    """The page's open incidents and maintenance, as much as overall_status() reads."""
    return list(Incident.objects.filter(page=page).open().only("kind", "status", "impact"))


def incident_timelines(updates, start, end):
    """{component id: [(status, from, to)]}: what the incident's own updates said about each
    component it affected, from the first update that named it until the incident's end.

    Drawn from the updates rather than the components' history, so that the timeline agrees
    with the impact beside it even where the history was not rewritten (a backfilled incident)
    or another incident held the component meanwhile; a maintenance that has not started has
    said nothing yet, and has no timeline.
    """
    said = {}  # component id -> [(at, status)], oldest first
    for update in sorted(updates, key=lambda u: (u.display_at, u.pk)):
        for impact in update.impacts.all():
            said.setdefault(impact.component_id, []).append((update.display_at, impact.new_status))
    timelines = {}
    for component_id, changes in said.items():
        if start >= end:
            # Over within the second: the worst it was at that instant is all there is.
            statuses = [status for _, status in changes]
            timelines[component_id] = [(worst_status(statuses), start, end)]
            continue
        segments = []
        for (at, status), (until, _) in zip(changes, [*changes[1:], (end, None)], strict=True):
            seg_start, seg_end = min(max(at, start), end), min(max(until, start), end)
            if seg_end <= seg_start:
                continue
            if segments and segments[-1][0] == status:
                segments[-1] = (status, segments[-1][1], seg_end)
            else:
                segments.append((status, seg_start, seg_end))
        timelines[component_id] = segments
    return timelines


def merge_timelines(timelines, start, end):
    """The worst status at each moment across several components' timelines (none where none
    of them says anything)."""
    points = sorted({start, end, *(t for tl in timelines for _, a, b in tl for t in (a, b))})
    merged = []
    for a, b in zip(points, points[1:] or [end], strict=False):
        statuses = [s for tl in timelines for s, x, y in tl if x <= a < y or (x == y == a)]
        if not statuses:
            continue
        status = worst_status(statuses)
        if merged and merged[-1][0] == status and merged[-1][2] == a:
            merged[-1] = (status, merged[-1][1], b)
        else:
            merged.append((status, a, b))
    return merged


@dataclass(eq=False, slots=True)
class DayIncident:
    """An incident as a day's popover links to it (`public_url` is set by the view)."""

    pk: int
    code: str
    name: str
    started_at: datetime
    public_url: str = ""


def incidents_by_day(page, first_day, days, tz, now):
    """{component id: {day index: [DayIncident]}}: the incidents and maintenance that affected
    each component on each of the `days` calendar days (in `tz`) from `first_day`, from their
    start until they were resolved (or now), oldest first. One query, whatever the days; rows,
    not models (a grown page links a hundred incidents)."""
    since = datetime.combine(first_day, time.min, tzinfo=tz)
    incidents, by_component = {}, {}
    for component_id, pk, code, name, status, started_at, resolved_at in (
        Incident.components.through.objects.filter(
            incident__page=page, incident__started_at__lt=now
        )
        .exclude(incident__status=IncidentStatus.SCHEDULED)
        .filter(Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gte=since))
        .values_list(
            "component_id",
            "incident_id",
            "incident__code",
            "incident__name",
            "incident__status",
            "incident__started_at",
            "incident__resolved_at",
        )  # fmt: skip
    ):
        found = incidents.get(pk)
        if found is None:
            end = resolved_at or (started_at if status in CLOSED_STATUSES else now)
            first = (started_at.astimezone(tz).date() - first_day).days
            last = (max(end, started_at).astimezone(tz).date() - first_day).days
            found = incidents[pk] = (DayIncident(pk, code, name, started_at), first, last)
        incident, first, last = found
        by_day = by_component.setdefault(component_id, {})
        for index in range(max(first, 0), min(last, days - 1) + 1):
            by_day.setdefault(index, []).append(incident)
    for by_day in by_component.values():
        for listed in by_day.values():
            listed.sort(key=lambda incident: (incident.started_at, incident.pk))
    return by_component


def merge_incidents_by_day(by_days):
    """One {day index: [incident]} from several (a group's, from its components')."""
    merged = {}
    for by_day in by_days:
        for index, listed in by_day.items():
            merged.setdefault(index, {}).update((incident.pk, incident) for incident in listed)
    return {
        index: sorted(found.values(), key=lambda incident: (incident.started_at, incident.pk))
        for index, found in merged.items()
    }
