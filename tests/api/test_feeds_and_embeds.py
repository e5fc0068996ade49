"""Feeds, calendar, badge and widget parse as what they claim to be."""

# Our own output, parsed to prove it is well-formed XML.
import xml.etree.ElementTree as ET  # noqa: S405
from datetime import UTC, timedelta

import feedparser
import pytest
from django.utils import timezone
from icalendar import Calendar

from incidents.models import Incident, IncidentStatus
from status.models import ComponentStatus
from tests.factories import make_maintenance


@pytest.fixture
def page_with_incident(tenant_a):
    """Tenant A's page with an incident on its API, identified."""
    page = tenant_a.page
    api = page.components.get(name="API")
    incident = Incident.declare(
        page,
        name="API errors",
        body="Looking into it.",
        component_statuses={api: ComponentStatus.PARTIAL_OUTAGE},
    )
    incident.post_update(IncidentStatus.IDENTIFIED, "Found it.")
    return page


@pytest.fixture
def maintenance(page_with_incident):
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    return make_maintenance(page_with_incident, start, body="Upgrading Postgres.")


@pytest.mark.parametrize("feed", ["history.atom", "history.rss"])
def test_the_history_feeds_parse_with_feedparser(client, page_with_incident, feed):
    response = client.get(f"/p/alpha/{feed}")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert [e.title for e in parsed.entries] == ["API errors"]
    assert "Found it." in parsed.entries[0].summary


def test_the_maintenance_calendar_parses_with_icalendar(client, maintenance):
    response = client.get("/p/alpha/maintenance.ics")
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert str(event["summary"]) == "Database upgrade"
    assert event.decoded("dtstart") == maintenance.scheduled_for.astimezone(UTC)
    assert event.decoded("dtend").tzinfo is not None
    assert event.decoded("dtend").utcoffset() == timedelta(0)
    assert str(event["description"]) == "Upgrading Postgres."
    assert str(event["url"]).endswith(f"/incidents/{maintenance.code}/")
    assert str(event["uid"]) == f"{maintenance.code}@status.alpha.example"


def test_a_rescheduled_maintenance_keeps_its_uid(client, maintenance):
    first = Calendar.from_ical(client.get("/p/alpha/maintenance.ics").content)
    maintenance.scheduled_until += timedelta(hours=1)
    maintenance.save()
    second = Calendar.from_ical(client.get("/p/alpha/maintenance.ics").content)
    assert [e["uid"] for e in first.walk("VEVENT")] == [e["uid"] for e in second.walk("VEVENT")]
    assert second.walk("VEVENT")[0].decoded("dtend") > first.walk("VEVENT")[0].decoded("dtend")


def test_the_badge_is_valid_svg_with_the_pages_status(client, page_with_incident):
    response = client.get("/p/alpha/badge.svg")
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)  # noqa: S314
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["status", "Partial System Outage"]
    assert root.get("aria-label") == "status: Partial System Outage"
    assert client.get("/p/alpha/badge.svg")["X-Cache"] == "hit"


def test_an_operational_badge_says_so(client, tenant_a):
    root = ET.fromstring(client.get("/p/alpha/badge.svg").content)  # noqa: S314
    assert "All Systems Operational" in [
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text")
    ]


def test_the_embed_widget_is_frameable_and_shows_the_active_incident(client, page_with_incident):
    for _ in range(2):  # a miss, then a cached hit: both frameable
        response = client.get("/p/alpha/embed/")
        assert response.status_code == 200
        assert "X-Frame-Options" not in response
        html = response.content.decode()
        assert "Partial System Outage" in html
        assert "API errors" in html


def test_other_pages_stay_unframeable(client, page_with_incident):
    assert client.get("/p/alpha/")["X-Frame-Options"] == "DENY"
