"""The incident history (by month, three months a page) and the Atom and RSS feeds."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from status.models import ComponentStatus
from tests.factories import make_empty_page, make_old_component, make_resolved_incident
from tests.html import hrefs, visible

ECUADOR = ZoneInfo("America/Guayaquil")
# Mid-May in Ecuador: the first history page shows May, April and March 2026.
NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def page_in_may(db, time_machine):
    """Alpha's page on its own (no team) in Ecuador's time zone, with one component (page.api),
    as it is at NOW."""
    time_machine.move_to(NOW, tick=False)
    page = make_empty_page("alpha", "Alpha", time_zone="America/Guayaquil")
    page.api = make_old_component(page, "API")
    return page


def months(body):
    """[(month heading, [incident names] or the empty-month text)] as shown."""
    shown = []
    for section in body.find_all("section", class_="history-month"):
        names = [article.find("h3").text for article in section.find_all("article")]
        shown.append((section.find("h2").text, names or section.find("p").text))
    return shown


def pager(body):
    return {a.text: a.attrs["href"] for a in body.find("nav", class_="pager").find_all("a")}


def test_incidents_are_grouped_by_month_newest_first(client, page_in_may):
    make_resolved_incident(page_in_may, "Early May", datetime(2026, 5, 2, 10, 0, tzinfo=ECUADOR))
    make_resolved_incident(page_in_may, "Mid May", datetime(2026, 5, 10, 10, 0, tzinfo=ECUADOR))
    make_resolved_incident(
        page_in_may, "March trouble", datetime(2026, 3, 20, 10, 0, tzinfo=ECUADOR)
    )

    body = visible(client.get("/p/alpha/history/"))
    assert body.find("h1").text == "Incident history"
    assert months(body) == [
        ("May 2026", ["Mid May", "Early May"]),
        ("April 2026", "No incidents reported this month."),
        ("March 2026", ["March trouble"]),
    ]


def test_an_incident_links_to_its_page_and_says_status_impact_and_times(client, page_in_may):
    incident = make_resolved_incident(
        page_in_may,
        "API errors",
        datetime(2026, 5, 2, 10, 0, tzinfo=ECUADOR),
        minutes=45,
        component_statuses={page_in_may.api: ComponentStatus.PARTIAL_OUTAGE},
    )

    body = visible(client.get("/p/alpha/history/"))
    article = body.find("article", class_="history-incident")
    link = article.find("h3").find("a")
    assert link.attrs["href"] == f"/p/alpha/incidents/{incident.code}/"
    assert (
        article.find("p").text == "Resolved · Impact: Major · May 2, 10:00 AM – May 2, 10:45 AM -05"
    )
    for time in article.find_all("time"):
        assert time.attrs["datetime"].endswith("-05:00")


def test_times_and_months_follow_the_page_time_zone(client, page_in_may):
    # 02:00 UTC on March 1 is 21:00 on February 28 in Ecuador.
    make_resolved_incident(page_in_may, "Late February", datetime(2026, 3, 1, 2, 0, tzinfo=UTC))

    first = visible(client.get("/p/alpha/history/"))
    assert ("March 2026", "No incidents reported this month.") in months(first)
    second = visible(client.get("/p/alpha/history/?page=2"))
    assert months(second)[0] == ("February 2026", ["Late February"])
    article = second.find("article", class_="history-incident")
    assert "Feb 28, 9:00 PM" in article.text
    assert article.find("time").attrs["datetime"] == "2026-02-28T21:00:00-05:00"


def test_history_pages_by_three_months_with_newer_and_older_links(client, page_in_may):
    make_resolved_incident(page_in_may, "In May", datetime(2026, 5, 3, 9, 0, tzinfo=ECUADOR))
    make_resolved_incident(page_in_may, "In January", datetime(2026, 1, 15, 9, 0, tzinfo=ECUADOR))
    make_resolved_incident(page_in_may, "In November", datetime(2025, 11, 5, 9, 0, tzinfo=ECUADOR))

    first = visible(client.get("/p/alpha/history/"))
    assert [month for month, _ in months(first)] == ["May 2026", "April 2026", "March 2026"]
    assert pager(first) == {"Older →": "?page=2"}
    assert "In January" not in first.text

    second = visible(client.get("/p/alpha/history/?page=2"))
    assert months(second) == [
        ("February 2026", "No incidents reported this month."),
        ("January 2026", ["In January"]),
        ("December 2025", "No incidents reported this month."),
    ]
    assert pager(second) == {"← Newer": "?page=1", "Older →": "?page=3"}

    third = visible(client.get("/p/alpha/history/?page=3"))
    assert months(third)[0] == ("November 2025", ["In November"])
    assert pager(third) == {"← Newer": "?page=2"}


def test_a_page_past_the_oldest_incident_is_not_found(client, page_in_may):
    make_resolved_incident(page_in_may, "In May", datetime(2026, 5, 3, 9, 0, tzinfo=ECUADOR))
    make_resolved_incident(page_in_may, "In November", datetime(2025, 11, 5, 9, 0, tzinfo=ECUADOR))

    # Between the two, a page of empty months leads on to the older one.
    between = client.get("/p/alpha/history/?page=2")
    assert between.status_code == 200
    assert pager(visible(between)) == {"← Newer": "?page=1", "Older →": "?page=3"}
    assert client.get("/p/alpha/history/?page=3").status_code == 200

    for number in (4, 5, 100):
        response = client.get(f"/p/alpha/history/?page={number}")
        assert response.status_code == 404, number
        assert "Older" not in response.text


def test_the_first_page_of_an_empty_history_is_there_and_the_next_is_not(client, page_in_may):
    response = client.get("/p/alpha/history/")
    assert response.status_code == 200
    body = visible(response)
    assert [text for _, text in months(body)] == ["No incidents reported this month."] * 3
    assert not body.find_all("nav", class_="pager") or pager(body) == {}
    assert client.get("/p/alpha/history/?page=2").status_code == 404


def test_upcoming_maintenance_does_not_make_a_page_of_history(client, page_in_may):
    Incident.schedule(
        page_in_may,
        name="Overdue upgrade",
        scheduled_for=NOW - timedelta(days=200),
        scheduled_until=NOW - timedelta(days=199),
        components=[page_in_may.api],
        auto_start=False,
        notify=False,
    )
    assert client.get("/p/alpha/history/?page=2").status_code == 404


def test_scheduled_maintenance_is_not_history_yet(client, page_in_may):
    Incident.schedule(
        page_in_may,
        name="Upcoming upgrade",
        scheduled_for=NOW + timedelta(days=2),
        scheduled_until=NOW + timedelta(days=2, hours=1),
        components=[page_in_may.api],
        notify=False,
    )
    done = Incident.schedule(
        page_in_may,
        name="Past upgrade",
        scheduled_for=NOW - timedelta(days=3),
        scheduled_until=NOW - timedelta(days=3) + timedelta(hours=1),
        components=[page_in_may.api],
        notify=False,
    )
    done.post_update(IncidentStatus.IN_PROGRESS, display_at=done.scheduled_for, notify=False)
    done.post_update(IncidentStatus.COMPLETED, display_at=done.scheduled_until, notify=False)

    body = visible(client.get("/p/alpha/history/"))
    assert "Upcoming upgrade" not in body.text
    article = body.find("article", class_="history-incident")
    assert article.find("h3").text == "Past upgrade"
    assert article.find("p").text.startswith("Maintenance · Completed")


def test_history_shows_only_this_pages_incidents(client, page_in_may):
    other = make_empty_page("bravo", "Bravo")
    make_resolved_incident(other, "Bravo only", NOW - timedelta(days=1))
    make_resolved_incident(page_in_may, "Alpha only", NOW - timedelta(days=1))

    body = visible(client.get("/p/alpha/history/"))
    assert "Alpha only" in body.text
    assert "Bravo only" not in body.text


def test_history_works_on_the_pages_own_host(client, page_in_may):
    page_in_may.custom_domain = "status.alpha.example"
    page_in_may.domain_verified_at = timezone.now()
    page_in_may.save()
    incident = make_resolved_incident(page_in_may, "On the domain", NOW - timedelta(days=1))

    body = visible(client.get("/history/", headers={"host": "status.alpha.example"}))
    assert f"/incidents/{incident.code}/" in hrefs(body)
    assert not [href for href in hrefs(body) if href.startswith("/p/")]


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "0",
        "-3",
        "1.5",
        # Too many digits for int(); the whole query string lands in the cache key, which
        # Django warns would be too long for memcached.
        pytest.param(
            "9" * 5000,
            marks=pytest.mark.filterwarnings("ignore::django.core.cache.CacheKeyWarning"),
        ),
    ],
)
def test_a_bad_page_number_shows_the_first_page(client, page_in_may, value):
    make_resolved_incident(page_in_may, "Recent", NOW - timedelta(days=1))
    body = visible(client.get("/p/alpha/history/", {"page": value}))
    assert months(body)[0] == ("May 2026", ["Recent"])


@pytest.mark.parametrize("value", ["8200", "99999999"])
def test_a_page_number_before_year_one_is_not_a_server_error(page_in_may, value):
    client = Client(raise_request_exception=False)
    response = client.get("/p/alpha/history/", {"page": value})
    assert response.status_code in (200, 404)


# Feeds


@pytest.fixture
def feed_incidents(page_in_may):
    first = make_resolved_incident(
        page_in_may, "Login errors", datetime(2026, 5, 2, 10, 0, tzinfo=ECUADOR)
    )
    second = Incident.declare(
        page_in_may,
        name="Slow search & indexing",
        body="Search is **slow**; we are on it.",
        component_statuses={page_in_may.api: ComponentStatus.DEGRADED_PERFORMANCE},
        started_at=NOW - timedelta(hours=1),
        notify=False,
    )
    return [second, first]


def parse_feed(response):
    return ET.fromstring(response.content)  # noqa: S314 (our own feed, in a test)


def test_the_atom_feed_lists_every_incident_with_its_updates(client, feed_incidents):
    response = client.get("/p/alpha/history.atom")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = parse_feed(response)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}title").text == "Alpha Status - Incident History"
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [
        "Slow search & indexing",
        "Login errors",
    ]
    for entry, incident in zip(entries, feed_incidents, strict=True):
        link = entry.find(f"{ATOM}link").attrib["href"]
        assert link == f"http://testserver/p/alpha/incidents/{incident.code}/"
    summary = entries[1].find(f"{ATOM}summary").text
    assert "Login errors is resolved." in summary
    assert "Investigating Login errors." in summary
    assert summary.index("Resolved") < summary.index("Investigating")
    assert "<strong>slow</strong>" in entries[0].find(f"{ATOM}summary").text


def test_the_rss_feed_lists_every_incident_with_its_updates(client, feed_incidents):
    response = client.get("/p/alpha/history.rss")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/rss+xml; charset=utf-8"
    root = parse_feed(response)
    assert root.tag == "rss"
    channel = root.find("channel")
    assert channel.find("title").text == "Alpha Status - Incident History"
    items = channel.findall("item")
    assert [item.find("title").text for item in items] == [
        "Slow search & indexing",
        "Login errors",
    ]
    for item, incident in zip(items, feed_incidents, strict=True):
        assert item.find("link").text == f"http://testserver/p/alpha/incidents/{incident.code}/"
        assert item.find("guid").text == item.find("link").text
    description = items[1].find("description").text
    assert "Login errors is resolved." in description
    assert "Investigating Login errors." in description
    assert "Search is <strong>slow</strong>; we are on it." in items[0].find("description").text


def test_feeds_are_served_on_the_pages_own_host_with_its_links(client, page_in_may, feed_incidents):
    page_in_may.custom_domain = "status.alpha.example"
    page_in_may.domain_verified_at = timezone.now()
    page_in_may.save()
    response = client.get("/history.atom", headers={"host": "status.alpha.example"})
    assert response.status_code == 200
    root = parse_feed(response)
    links = [e.find(f"{ATOM}link").attrib["href"] for e in root.findall(f"{ATOM}entry")]
    assert links == [
        f"http://status.alpha.example/incidents/{incident.code}/" for incident in feed_incidents
    ]


def test_feeds_of_an_unknown_page_are_404(client, page_in_may):
    assert client.get("/p/nobody/history.atom").status_code == 404
    assert client.get("/p/nobody/history.rss").status_code == 404
