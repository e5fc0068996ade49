"""maintenance.ics: a page's scheduled maintenance as an iCalendar feed that calendar apps
subscribe to. Each window is one VEVENT whose UID stays the same as it is rescheduled, so a
subscribed calendar moves the event rather than adding another."""

from datetime import UTC, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from icalendar import Calendar, Event

from incidents.models import Incident, IncidentStatus, IncidentUpdate
from status.hosts import public_page

# Completed maintenance stays in the feed this long, so a calendar keeps recent history.
RECENT_DAYS = 30


@public_page
def maintenance_ics(request, page):
    now = timezone.now()
    maintenances = (
        Incident.objects.filter(page=page)
        .maintenances()
        .filter(
            Q(
                status__in=[
                    IncidentStatus.SCHEDULED,
                    IncidentStatus.IN_PROGRESS,
                    IncidentStatus.VERIFYING,
                ]
            )
            | Q(scheduled_until__gte=now - timedelta(days=RECENT_DAYS))
        )  # fmt: skip
        .prefetch_related(
            Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
        )
        .order_by("scheduled_for", "id")
    )
    domain = page.hostname or urlsplit(settings.SITE_URL).hostname or "heliograph"
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.SITE_NAME}//{page.name} maintenance//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", gettext("%(name)s scheduled maintenance") % {"name": page.name})
    for maintenance in maintenances:
        updates = list(maintenance.updates.all())
        event = Event()
        event.add("uid", f"{maintenance.code}@{domain}")
        event.add("dtstamp", maintenance.updated_at.astimezone(UTC))
        event.add("dtstart", maintenance.scheduled_for.astimezone(UTC))
        event.add("dtend", maintenance.scheduled_until.astimezone(UTC))
        event.add("summary", maintenance.name)
        event.add("description", updates[0].body if updates else "")
        event.add("url", page.public_url(f"incidents/{maintenance.code}/"))
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{page.slug}-maintenance.ics"'
    return response
