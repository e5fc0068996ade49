"""The public incident page: the Jelou example (shared/docs/example-incident.md) element by
element, and ongoing incidents, maintenance, postmortems, tenancy and hosts."""

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from time_machine import travel

from incidents.models import Incident, IncidentStatus
from status.models import ComponentGroup, ComponentStatus
from tests.factories import make_empty_page, make_old_component
from tests.html import hrefs, parse_html, visible

ECUADOR = ZoneInfo("America/Guayaquil")
NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)
ISO_ECUADOR = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-05:00$")

RCA_SECTIONS = [
    "Incident Summary",
    "Impact",
    "Detection",
    "Response",
    "Root Cause",
    "Resolution and Improvements",
]
# The start of every paragraph of the example's RCA (shared/docs/example-incident.txt).
RCA_PARAGRAPHS = [
    "On April 1, 2026, during an automatic component update process",
    "As a result, some users were unable to log in or maintain active sessions",
    "During the incident, users were unable to consistently log in",
    "No data loss or impact on message processing or transactions was reported.",
    "The incident was identified between 00:26 AM and 01:26 AM (Ecuador time)",
    "Once the issue was identified, the technical team immediately rolled back",
    "The automatic component update process introduced an incompatibility",
    "As a result, login and session maintenance requests could not be processed correctly.",
    "As an immediate corrective action, all changes were fully rolled back",
    "Subsequently, the deployment process was adjusted to ensure updates are applied gradually",
    "All services are currently operating normally.",
]


# The Jelou example


@pytest.fixture(scope="module")
def jelou_response(django_db_setup, django_db_blocker):
    """The demo data's Jelou incident page, seen on 2026-04-10 at noon in Ecuador: nine days
    after the incident. The demo runs once for the module, in a transaction rolled back after."""
    with (
        django_db_blocker.unblock(),
        travel(datetime(2026, 4, 10, 12, 0, tzinfo=ECUADOR), tick=False),
        override_settings(
            DEBUG=True,
            SITE_HOSTS=[*settings.SITE_HOSTS, "testserver"],
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        transaction.atomic(),
    ):
        cache.clear()
        call_command("demo", stdout=io.StringIO())
        incident = Incident.objects.get(name="Authentication Service Degradation")
        # The demo's Jelou page is Spanish-first; a reader of English gets it in English
        # (tests/i18n/ reads it in Spanish).
        response = Client(headers={"Accept-Language": "en"}).get(
            f"/p/jelou/incidents/{incident.code}/"
        )
        transaction.set_rollback(True)
    cache.clear()
    return response


@pytest.fixture
def jelou_body(jelou_response):
    return visible(jelou_response)


def test_jelou_title_is_company_and_incident_name(jelou_response):
    title = parse_html(jelou_response.text).find("title").text
    assert title == "Jelou - Authentication Service Degradation – Incident details"


def test_jelou_banner_is_computed_now_all_systems_operational(jelou_body):
    assert jelou_body.find("section", class_="banner").text == "All systems operational"


def test_jelou_shows_name_status_and_impact(jelou_body):
    assert jelou_body.find("h1").text == "Authentication Service Degradation"
    assert jelou_body.find("dd", class_="incident-status").text == "Resolved"
    # The impact level, in the words of the declare form; the component status it comes from
    # (degraded performance) is in the timeline below.
    assert jelou_body.find("dd", class_="impact").text == "Minor"


def test_jelou_says_when_it_started_and_how_long_it_lasted(jelou_body):
    when = jelou_body.find("p", class_="when")
    started, lasted = when.find_all("span")
    assert started.text == "Started 9 days ago"
    assert lasted.text == "Lasted less than a minute"
    exact = started.find("time")
    assert exact.attrs["datetime"] == "2026-04-01T00:26:00-05:00"
    assert "April 1, 2026, 12:26:00 AM" in exact.attrs["title"]


def test_jelou_lists_affected_group_and_component_with_their_timelines(jelou_body):
    affected = jelou_body.find("section", class_="affected")
    assert affected.find("h2").text == "Affected"
    items = affected.find("ul", class_="affected-list").children
    rows = [
        (item.find("span", class_="name").text, item.find("ul", class_="timeline").text)
        for item in items
        if not isinstance(item, str)
    ]
    # What the incident said (the history was left as it was when it was published after the
    # fact), so the timeline agrees with the impact beside it.
    assert rows == [
        ("Website", "Degraded performance at 12:26 AM"),
        ("https://jelou.ai", "Degraded performance at 12:26 AM"),
    ]
    for time in affected.find_all("time"):
        assert time.attrs["datetime"] == "2026-04-01T00:26:00-05:00"


def test_jelou_updates_are_newest_first_with_their_labels(jelou_body):
    updates = jelou_body.find("section", class_="updates")
    assert updates.find("h2").text == "Updates"
    items = updates.find_all("li", class_="update")
    assert [item.find("h3", class_="update-status").text for item in items] == [
        "Update",
        "Resolved",
    ]
    newest, oldest = items
    assert newest.find("div", class_="markdown").text == "This incident has been resolved."
    assert newest.find("time").attrs["datetime"] == "2026-04-01T00:26:40-05:00"
    assert oldest.find("time").attrs["datetime"] == "2026-04-01T00:26:00-05:00"
    assert oldest.find("div", class_="markdown").text.startswith("RCA Incident Summary On April 1")


def test_jelou_rca_renders_headings_and_paragraphs(jelou_body):
    rca = jelou_body.find("section", class_="updates").find_all("li", class_="update")[1]
    markdown = rca.find("div", class_="markdown")
    headings = [(h.tag, h.text) for h in markdown.iter() if h.tag in ("h3", "h4")]
    assert headings == [("h3", "RCA")] + [("h4", section) for section in RCA_SECTIONS]
    paragraphs = [p.text for p in markdown.find_all("p")]
    assert len(paragraphs) == len(RCA_PARAGRAPHS)
    for paragraph, start in zip(paragraphs, RCA_PARAGRAPHS, strict=True):
        assert paragraph.startswith(start)
    # Each section has its text under it, not inside the heading.
    blocks = [child for child in markdown.children if not isinstance(child, str)]
    for i, block in enumerate(blocks):
        if block.tag == "h4":
            assert blocks[i + 1].tag == "p", block.text
    assert "#" not in markdown.text


def test_jelou_every_time_is_in_the_page_time_zone(jelou_body):
    times = jelou_body.find_all("time")
    assert len(times) >= 6
    for time in times:
        assert ISO_ECUADOR.match(time.attrs["datetime"]), time.attrs["datetime"]
        assert datetime.fromisoformat(time.attrs["datetime"]).utcoffset() == timedelta(hours=-5)
    assert "Times are shown in America/Guayaquil." in jelou_body.text


def test_jelou_page_links_back_to_status_and_history(jelou_body):
    links = hrefs(jelou_body)
    assert "/p/jelou/" in links
    assert "/p/jelou/history/" in links


# Other incidents


@pytest.fixture
def ecuador_page(db, time_machine):
    """Alpha's page on its own (no team) in Ecuador's time zone, as it is at NOW: Core's API and
    Website (page.api, page.website), in service since long before."""
    time_machine.move_to(NOW, tick=False)
    page = make_empty_page(
        "alpha",
        "Alpha",
        time_zone="America/Guayaquil",
        custom_domain="status.alpha.example",
        domain_verified_at=timezone.now(),
    )
    core = ComponentGroup.objects.create(page=page, name="Core")
    page.api = make_old_component(page, "API", core, position=0)
    page.website = make_old_component(page, "Website", core, position=1)
    return page


def when(body):
    """The parts of the line that says when, which CSS separates with " · "."""
    return [span.text for span in body.find("p", class_="when").find_all("span")]


def incident_url(incident, prefix="/p/alpha"):
    return f"{prefix}/incidents/{incident.code}/"


def test_an_ongoing_incident_says_how_long_it_has_been_going_on(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page,
        name="Payments failing",
        body="We are investigating.",
        component_statuses={ecuador_page.api: ComponentStatus.MAJOR_OUTAGE},
        started_at=NOW - timedelta(hours=2, minutes=5),
        notify=False,
    )

    body = visible(client.get(incident_url(incident)))
    started, ongoing = body.find("p", class_="when").find_all("span")
    assert started.text == "Started 2 hours ago"
    assert ongoing.text == "Ongoing for 2 hours 5 minutes"
    assert "Lasted" not in body.text
    assert body.find("dd", class_="incident-status").text == "Investigating"
    assert body.find("dd", class_="impact").text == "Critical"
    assert body.find("section", class_="banner").text == "Major system outage"
    timelines = {
        item.find("span", class_="name").text: item.find("ul", class_="timeline").text
        for item in body.find("ul", class_="affected-list").find_all(
            "li", class_="affected-component"
        )
    }
    assert timelines["API"] == "Major outage since 7:55 AM"


def test_a_resolved_incident_shows_the_outage_in_its_timeline(client, ecuador_page):
    start = NOW - timedelta(hours=3)
    incident = Incident.declare(
        ecuador_page,
        name="Website errors",
        component_statuses={ecuador_page.website: ComponentStatus.PARTIAL_OUTAGE},
        started_at=start,
        notify=False,
    )
    incident.post_update(
        IncidentStatus.RESOLVED, "Fixed.", display_at=start + timedelta(minutes=47), notify=False
    )

    body = visible(client.get(incident_url(incident)))
    assert body.find("p", class_="when").find_all("span")[1].text == "Lasted 47 minutes"
    group = body.find("li", class_="affected-group")
    assert group.find("span", class_="name").text == "Core"
    # Just the outage: no zero-length periods where it touches the history around it.
    assert group.find("ul", class_="timeline").text == "Partial outage from 7:00 AM to 7:47 AM"
    website = body.find("li", class_="affected-component")
    assert website.find("span", class_="name").text == "Website"
    assert website.find("ul", class_="timeline").text == "Partial outage from 7:00 AM to 7:47 AM"
    # Not affected, not listed.
    assert "API" not in body.find("section", class_="affected").text
    assert body.find("section", class_="banner").text == "All systems operational"


def test_a_maintenance_page_shows_its_window(client, ecuador_page):
    window = datetime(2026, 3, 17, 1, 0, tzinfo=ECUADOR)
    maintenance = Incident.schedule(
        ecuador_page,
        name="Database upgrade",
        scheduled_for=window,
        scheduled_until=window + timedelta(hours=2),
        body="The dashboard will be read-only.",
        components=[ecuador_page.api],
        notify=False,
    )

    body = visible(client.get(incident_url(maintenance)))
    facts = {
        div.find("dt").text: div.find("dd")
        for div in body.find("dl", class_="facts").find_all("div")
    }
    assert facts["Status"].text == "Scheduled"
    assert facts["Impact"].text == "Maintenance"
    assert facts["Scheduled"].text == "Mar 17, 2026, 1:00 AM – 3:00 AM -05"
    assert [t.attrs["datetime"] for t in facts["Scheduled"].find_all("time")] == [
        "2026-03-17T01:00:00-05:00",
        "2026-03-17T03:00:00-05:00",
    ]
    # One relative time, and no empty part after it for the " · " separator to follow.
    assert when(body) == ["Starts in 1 day 15 hours"]
    # The start time once (in the window), not again under it nor in a timeline.
    starts = [
        t
        for t in body.find("header", class_="incident-header").find_all("time")
        if t.attrs["datetime"].startswith("2026-03-17T01:00")
    ]
    assert len(starts) == 2  # the window's, and the relative one's exact instant
    affected = body.find("section", class_="affected")
    assert [name.text for name in affected.find_all("span", class_="name")] == ["Core", "API"]
    assert "Operational" not in affected.text
    assert not affected.find_all("ul", class_="timeline")
    assert "The dashboard will be read-only." in body.text
    assert body.find("section", class_="banner").text == "All systems operational"


def test_a_maintenance_reads_the_same_impact_before_during_and_after(client, ecuador_page):
    maintenance = Incident.schedule(
        ecuador_page,
        name="Database upgrade",
        scheduled_for=NOW + timedelta(hours=1),
        scheduled_until=NOW + timedelta(hours=3),
        components=[ecuador_page.api],
        notify=False,
    )

    def page(path=None):
        return visible(client.get(path or incident_url(maintenance)))

    before = page()
    with travel(NOW + timedelta(hours=1, minutes=30), tick=False):
        maintenance.post_update(IncidentStatus.IN_PROGRESS, notify=False)
        during = page()
        history_during = page("/p/alpha/history/")
    with travel(NOW + timedelta(hours=3), tick=False):
        maintenance.post_update(IncidentStatus.COMPLETED, notify=False)
        after = page()

    for body in (before, during, after):
        assert body.find("dd", class_="impact").text == "Maintenance"
    assert "Maintenance · In progress · Mar" in history_during.text
    assert when(during) == ["Started less than a minute ago", "Ongoing for less than a minute"]
    timeline = after.find("li", class_="affected-component").find("ul", class_="timeline")
    assert timeline.text == "Under maintenance from 11:30 AM to 1:00 PM"
    assert when(after) == ["Started 1 hour ago", "Lasted 1 hour 30 minutes"]


def test_a_window_across_a_change_of_clocks_shows_both_offsets(client, ecuador_page):
    ecuador_page.time_zone = "Europe/Berlin"
    ecuador_page.save()
    start = datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    maintenance = Incident.schedule(
        ecuador_page,
        name="Night work",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[ecuador_page.api],
        notify=False,
    )
    body = visible(client.get(incident_url(maintenance)))
    window = body.find("dd", class_="window").text
    assert window == "Mar 29, 2026, 1:00 AM CET – Mar 29, 2026, 3:00 AM CEST"


def test_a_cancelled_maintenance_says_so_instead_of_when_it_would_have_started(
    client, ecuador_page
):
    maintenance = Incident.schedule(
        ecuador_page,
        name="Database upgrade",
        scheduled_for=NOW + timedelta(days=1),
        scheduled_until=NOW + timedelta(days=1, hours=2),
        components=[ecuador_page.api],
        notify=False,
    )
    maintenance.cancel(notify=False)

    assert when(visible(client.get(incident_url(maintenance)))) == [
        "Cancelled less than a minute ago"
    ]


def test_a_timeline_that_crosses_midnight_shows_dates(client, ecuador_page):
    start = datetime(2026, 3, 14, 23, 30, tzinfo=ECUADOR)
    incident = Incident.declare(
        ecuador_page,
        name="Overnight errors",
        component_statuses={ecuador_page.api: ComponentStatus.PARTIAL_OUTAGE},
        started_at=start,
        notify=False,
    )
    incident.post_update(
        IncidentStatus.MONITORING,
        component_statuses={ecuador_page.api: ComponentStatus.DEGRADED_PERFORMANCE},
        display_at=start + timedelta(hours=1),
        notify=False,
    )
    incident.post_update(
        IncidentStatus.RESOLVED, display_at=start + timedelta(hours=2), notify=False
    )

    body = visible(client.get(incident_url(incident)))
    timeline = body.find("li", class_="affected-component").find("ul", class_="timeline")
    assert [li.text for li in timeline.find_all("li")] == [
        "Partial outage from Mar 14, 11:30 PM to Mar 15, 12:30 AM",
        "Degraded performance from Mar 15, 12:30 AM to Mar 15, 1:30 AM",
    ]
    assert body.find("dd", class_="impact").text == "Major"
    # Every update carries its date.
    for update in body.find_all("li", class_="update"):
        assert re.match(r"Mar 1[45], 2026, ", update.find_all("time")[-1].text)


def test_an_incident_within_a_day_shows_times_of_day_only(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page,
        name="Morning errors",
        component_statuses={ecuador_page.api: ComponentStatus.MAJOR_OUTAGE},
        started_at=NOW - timedelta(hours=2),
        notify=False,
    )
    incident.post_update(
        IncidentStatus.IDENTIFIED,
        component_statuses={ecuador_page.api: ComponentStatus.PARTIAL_OUTAGE},
        display_at=NOW - timedelta(hours=1),
        notify=False,
    )
    body = visible(client.get(incident_url(incident)))
    timeline = body.find("li", class_="affected-component").find("ul", class_="timeline")
    # Still going on: the last status holds "since", with no end that is only "now".
    assert [li.text for li in timeline.find_all("li")] == [
        "Major outage from 8:00 AM to 9:00 AM",
        "Partial outage since 9:00 AM",
    ]


def test_a_published_postmortem_appears_above_the_updates(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page,
        name="Queue backlog",
        status=IncidentStatus.RESOLVED,
        body="Resolved.",
        started_at=NOW - timedelta(days=1),
        notify=False,
    )
    incident.publish_postmortem(
        "## What happened\n\nA worker pool ran out of memory.\n\n- more memory\n- alerts",
        notify=False,
    )

    body = visible(client.get(incident_url(incident)))
    article = body.find("article", class_="incident-detail")
    sections = [s.attrs.get("class") for s in article.find_all("section")]
    assert sections.index("postmortem") < sections.index("updates")
    postmortem = article.find("section", class_="postmortem")
    assert postmortem.find("h2").text == "Postmortem"
    assert postmortem.find("h4").text == "What happened"
    assert postmortem.find("div", class_="markdown").find("p").text == (
        "A worker pool ran out of memory."
    )
    assert [li.text for li in postmortem.find_all("li")] == ["more memory", "alerts"]
    assert ISO_ECUADOR.match(postmortem.find("time").attrs["datetime"])
    assert body.find("dd", class_="incident-status").text == "Postmortem"


def test_an_unpublished_postmortem_is_not_shown(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page, name="Queue backlog", status=IncidentStatus.RESOLVED, notify=False
    )
    incident.postmortem_body = "Draft: do not show"
    incident.save()

    body = visible(client.get(incident_url(incident)))
    assert "Draft: do not show" not in body.text
    assert not body.find_all("section", class_="postmortem")


def test_incident_name_and_body_are_escaped(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page,
        name="<script>alert(1)</script>",
        body="<img src=x onerror=alert(1)> **bold**",
        notify=False,
    )

    response = client.get(incident_url(incident))
    assert "<script>alert(1)</script>" not in response.text
    assert "<img" not in response.text
    body = visible(response)
    assert body.find("h1").text == "<script>alert(1)</script>"
    assert body.find("div", class_="markdown").find("strong").text == "bold"


def test_another_pages_incident_is_404(client, ecuador_page):
    other = make_empty_page("bravo", "Bravo")
    theirs = Incident.declare(other, name="Bravo's secret trouble", notify=False)

    response = client.get(incident_url(theirs))
    assert response.status_code == 404
    assert "secret trouble" not in response.text
    assert client.get(incident_url(theirs, "/p/bravo")).status_code == 200
    assert (
        client.get(incident_url(theirs, ""), headers={"host": "status.alpha.example"}).status_code
        == 404
    )


def test_an_unknown_incident_code_is_404(client, ecuador_page):
    assert client.get("/p/alpha/incidents/doesnotexist/").status_code == 404
    assert client.get("/p/nobody/incidents/doesnotexist/").status_code == 404


def test_the_incident_page_works_on_the_pages_own_host(client, ecuador_page):
    incident = Incident.declare(
        ecuador_page,
        name="Search is slow",
        component_statuses={ecuador_page.api: ComponentStatus.DEGRADED_PERFORMANCE},
        notify=False,
    )

    response = client.get(incident_url(incident, ""), headers={"host": "status.alpha.example"})
    body = visible(response)
    assert body.find("h1").text == "Search is slow"
    local = [href for href in hrefs(body) if href.startswith("/")]
    assert "/" in local and "/history/" in local and "/history.atom" in local
    assert not [href for href in local if href.startswith("/p/")]
    head = parse_html(response.text).find("head")
    assert head.find("link", rel="alternate").attrs["href"] == "/history.atom"
