"""Reads that more than one outlet needs (public pages, API v2, console, webhook bodies)."""

from django.db.models import Prefetch

from incidents.models import ComponentImpact, Incident, IncidentUpdate, Kind
from status.models import ComponentStatus, OverallStatus, worst_status


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


def component_timeline(rows, start, end):
    """[(status, from, to)] of one component over [start, end], from its history rows."""
    segments = []
    for row in rows:
        seg_start = max(row.started_at, start)
        seg_end = min(row.ended_at or end, end)
        # A period touching the window only at its edge is not part of it; in a window of no
        # length (resolved within the second) the period holding its instant is all there is.
        instant = start == end and row.started_at <= start and (row.ended_at or end) >= end
        if seg_end <= seg_start and not instant:
            continue
        if segments and segments[-1][0] == row.status:
            segments[-1] = (row.status, segments[-1][1], seg_end)
        else:
            segments.append((row.status, seg_start, seg_end))
    return segments or [(ComponentStatus.OPERATIONAL, start, end)]


def merge_timelines(timelines, start, end):
    """The worst status at each moment across several components' timelines."""
    points = sorted({start, end, *(t for tl in timelines for _, a, b in tl for t in (a, b))})
    merged = []
    for a, b in zip(points, points[1:] or [end], strict=False):
        statuses = [s for tl in timelines for s, x, y in tl if x <= a < y or (x == y == a)]
        status = worst_status(statuses)
        if merged and merged[-1][0] == status:
            merged[-1] = (status, merged[-1][1], b)
        else:
            merged.append((status, a, b))
    return merged or [(ComponentStatus.OPERATIONAL, start, end)]
