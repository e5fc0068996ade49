"""Public pages run a fixed number of SQL queries, whatever the number of components, days of
history, incidents and updates (incidents/views.py). Each page is rendered uncached."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from status.models import ComponentGroup, ComponentStatus, ComponentStatusChange
from tests.factories import make_empty_page, make_old_component, make_resolved_incident

NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)
MAX_QUERIES = 12
OUTAGES = [
    (ComponentStatus.MAJOR_OUTAGE, 80, timedelta(hours=1)),
    (ComponentStatus.PARTIAL_OUTAGE, 45, timedelta(hours=3)),
    (ComponentStatus.DEGRADED_PERFORMANCE, 12, timedelta(minutes=20)),
]


def build_page(slug, components, groups, past_incidents):
    """A page with `components` in `groups` groups (some collapsed, some components not
    showcased or shown only if degraded), 90 days of history with outages, incidents and
    maintenance with several updates each, and `past_incidents` more in the last 14 days.
    Returns the page and its big resolved incident."""
    page = make_empty_page(slug, slug.title(), time_zone="Europe/Berlin")
    group_list = [
        ComponentGroup.objects.create(
            page=page, name=f"Group {i}", position=i, collapsed=bool(i % 2)
        )
        for i in range(groups)
    ]
    made = []
    for i in range(components):
        made.append(
            make_old_component(
                page,
                f"Component {i}",
                group_list[i % groups] if i % 5 else None,
                position=i,
                showcase=i % 7 != 3,
                only_show_if_degraded=i % 11 == 4,
            )
        )
    write_history(made)

    # A resolved incident that touched every component, with a postmortem.
    start = NOW - timedelta(days=3)
    big = Incident.declare(
        page,
        name="Everything slow",
        body="Investigating.",
        component_statuses=dict.fromkeys(made, ComponentStatus.PARTIAL_OUTAGE),
        started_at=start,
        notify=False,
    )
    big.post_update(
        IncidentStatus.IDENTIFIED,
        "Found it.",
        component_statuses=dict.fromkeys(made[::2], ComponentStatus.DEGRADED_PERFORMANCE),
        display_at=start + timedelta(minutes=10),
        notify=False,
    )
    big.post_update(
        IncidentStatus.MONITORING,
        "Watching.",
        display_at=start + timedelta(minutes=30),
        notify=False,
    )
    big.post_update(
        IncidentStatus.RESOLVED, "Done.", display_at=start + timedelta(hours=1), notify=False
    )
    big.publish_postmortem("## Cause\n\nA bad deploy.", notify=False)

    # An open incident, and maintenance: one scheduled, one completed.
    ongoing = Incident.declare(
        page,
        name="Errors on a few",
        component_statuses={
            made[0]: ComponentStatus.MAJOR_OUTAGE,
            made[1]: ComponentStatus.PARTIAL_OUTAGE,
        },
        started_at=NOW - timedelta(hours=2),
        notify=False,
    )
    ongoing.post_update(IncidentStatus.IDENTIFIED, "On it.", notify=False)
    Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=NOW + timedelta(days=1),
        scheduled_until=NOW + timedelta(days=1, hours=2),
        components=made[:3],
        notify=False,
    )
    done = Incident.schedule(
        page,
        name="Past upgrade",
        scheduled_for=NOW - timedelta(days=5),
        scheduled_until=NOW - timedelta(days=5, hours=-2),
        components=made[-3:],
        notify=False,
    )
    done.post_update(IncidentStatus.IN_PROGRESS, display_at=done.scheduled_for, notify=False)
    done.post_update(IncidentStatus.COMPLETED, display_at=done.scheduled_until, notify=False)
    for i in range(past_incidents):
        start = NOW - timedelta(days=i % 14, hours=1)
        incident = Incident.declare(
            page,
            name=f"Blip {i}",
            body="Investigating.",
            component_statuses={made[i % components]: ComponentStatus.MAJOR_OUTAGE},
            started_at=start,
            notify=False,
        )
        incident.post_update(
            IncidentStatus.MONITORING,
            "Better.",
            display_at=start + timedelta(minutes=5),
            notify=False,
        )
        incident.post_update(
            IncidentStatus.RESOLVED, "Done.", display_at=start + timedelta(minutes=9), notify=False
        )
    return page, big


def write_history(components):
    """Each component's history with the OUTAGES, written in bulk (set_status would take
    seconds for a hundred components)."""
    rows = []
    for i, component in enumerate(components):
        (first,) = component.status_changes.all()
        at = first.started_at
        for status, days_ago, length in OUTAGES:
            start = NOW - timedelta(days=days_ago, hours=i % 24)
            rows.append(
                ComponentStatusChange(
                    component=component, status="operational", started_at=at, ended_at=start
                )
            )
            rows.append(
                ComponentStatusChange(
                    component=component, status=status, started_at=start, ended_at=start + length
                )
            )
            at = start + length
        rows.append(ComponentStatusChange(component=component, status="operational", started_at=at))
    ComponentStatusChange.objects.filter(component__in=components).delete()
    ComponentStatusChange.objects.bulk_create(rows)


def queries_for(client, path):
    """The queries of one uncached GET of `path`."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    assert response["X-Cache"] == "miss"
    return len(captured.captured_queries), response


@pytest.fixture
def pages(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    return (
        build_page("small", 5, groups=2, past_incidents=1),
        build_page("large", 100, groups=10, past_incidents=20),
    )


def test_status_page_queries_do_not_grow_with_components_history_or_incidents(client, pages):
    small, small_response = queries_for(client, "/p/small/")
    large, large_response = queries_for(client, "/p/large/")

    assert small == large
    assert large <= MAX_QUERIES
    # The large page really shows what it has: bars for its showcased, visible components.
    (large_page, _) = pages[1]
    showcased = large_page.components.filter(showcase=True).exclude(
        only_show_if_degraded=True, status=ComponentStatus.OPERATIONAL
    )
    assert large_response.text.count('uptime, one bar per day"') == showcased.count() > 70
    assert large_response.text.count('<li class="day-major_outage">') >= showcased.count()
    assert "Everything slow" in large_response.text
    assert "Errors on a few" in large_response.text
    assert "Upgrade" in large_response.text
    assert "Blip 19" in large_response.text


def test_incident_page_queries_do_not_grow_with_affected_components_or_updates(client, pages):
    (_, small_incident), (_, large_incident) = pages
    small, _ = queries_for(client, f"/p/small/incidents/{small_incident.code}/")
    large, response = queries_for(client, f"/p/large/incidents/{large_incident.code}/")

    assert small == large
    assert large <= MAX_QUERIES
    assert response.text.count('class="affected-component') == 100
    assert "Postmortem" in response.text


def test_queries_are_the_same_on_the_pages_own_host(client, pages, django_assert_max_num_queries):
    (small_page, _), _ = pages
    small_page.custom_domain = "status.small.example"
    small_page.domain_verified_at = timezone.now()
    small_page.save()
    cache.clear()
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/", headers={"host": "status.small.example"})
    assert response.status_code == 200


def resolved_incidents(page, count):
    for i in range(count):
        make_resolved_incident(
            page,
            f"Incident {i}",
            NOW - timedelta(days=1 + i % 70, hours=i % 5),
            minutes=5,
            body="Investigating.",
            resolution="Done.",
            component_statuses={page.api: ComponentStatus.PARTIAL_OUTAGE},
        )


def test_history_queries_do_not_grow_with_incidents(
    client, db, time_machine, django_assert_num_queries
):
    time_machine.move_to(NOW, tick=False)
    few, many = make_empty_page("few", "Few"), make_empty_page("many", "Many")
    few.api, many.api = make_old_component(few, "API"), make_old_component(many, "API")
    resolved_incidents(few, 3)
    resolved_incidents(many, 60)
    # One older incident each, so that both have an "Older" link to look for.
    long_ago = NOW - timedelta(days=200)
    for page in (few, many):
        Incident.declare(
            page,
            name="Old",
            status=IncidentStatus.RESOLVED,
            started_at=long_ago,
            notify=False,
        )

    small, _ = queries_for(client, "/p/few/history/")
    large, response = queries_for(client, "/p/many/history/")

    assert small == large
    assert large <= MAX_QUERIES
    assert response.text.count('class="history-incident') == 60
    assert "Older →" in response.text
    cache.clear()
    with django_assert_num_queries(small):
        client.get("/p/many/history/?page=2")


def test_feed_queries_do_not_grow_with_incidents(client, pages):
    small, _ = queries_for(client, "/p/small/history.atom")
    large, _ = queries_for(client, "/p/large/history.atom")

    assert small == large
    assert large <= MAX_QUERIES
