from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from status.models import OverallStatus


def overall(components=("operational",), impacts=(), maintenance=False):
    status = OverallStatus(components, impacts, maintenance)
    return status.indicator, status.description


def test_all_operational_is_all_systems_operational():
    status = OverallStatus(["operational", "operational"])

    assert (status.indicator, status.description) == ("none", "All Systems Operational")
    assert status.banner == "All systems operational"


def test_no_components_at_all_is_all_systems_operational():
    assert overall(components=()) == ("none", "All Systems Operational")


def test_a_degraded_component_alone_is_partially_degraded_service():
    assert overall(["operational", "degraded_performance"]) == (
        "minor",
        "Partially Degraded Service",
    )


def test_a_minor_incident_is_a_minor_service_outage():
    assert overall(["operational"], ["minor"]) == ("minor", "Minor Service Outage")


def test_a_minor_incident_on_a_degraded_component_is_a_minor_service_outage():
    assert overall(["degraded_performance"], ["minor"]) == ("minor", "Minor Service Outage")


@pytest.mark.parametrize(
    ("components", "impacts"),
    [
        (["operational", "partial_outage"], []),
        (["operational"], ["major"]),
        (["degraded_performance"], ["minor", "major"]),
    ],
)
def test_a_partial_outage_or_a_major_incident_is_a_partial_system_outage(components, impacts):
    assert overall(components, impacts) == ("major", "Partial System Outage")


@pytest.mark.parametrize(
    ("components", "impacts"),
    [
        (["operational", "major_outage"], []),
        (["operational"], ["critical"]),
        (["partial_outage", "degraded_performance"], ["major", "critical"]),
        (["major_outage"], ["minor"]),
    ],
)
def test_a_major_outage_or_a_critical_incident_is_a_major_system_outage(components, impacts):
    assert overall(components, impacts) == ("critical", "Major System Outage")


def test_an_incident_without_impact_changes_nothing():
    assert overall(["operational"], ["none"]) == ("none", "All Systems Operational")


@pytest.mark.parametrize(
    ("components", "maintenance"),
    [
        (["operational"], True),
        (["under_maintenance", "operational"], True),
        (["under_maintenance", "operational"], False),
    ],
)
def test_maintenance_with_nothing_worse_is_service_under_maintenance(components, maintenance):
    status = OverallStatus(components, [], maintenance)

    assert (status.indicator, status.description) == ("maintenance", "Service Under Maintenance")
    assert status.banner == "Service under maintenance"


@pytest.mark.parametrize(
    ("components", "impacts", "expected"),
    [
        (["under_maintenance", "degraded_performance"], [], "minor"),
        (["under_maintenance"], ["minor"], "minor"),
        (["under_maintenance", "partial_outage"], [], "major"),
        (["under_maintenance"], ["major"], "major"),
        (["under_maintenance", "major_outage"], [], "critical"),
        (["under_maintenance"], ["critical"], "critical"),
    ],
)
def test_anything_worse_wins_over_maintenance(components, impacts, expected):
    assert overall(components, impacts, maintenance=True)[0] == expected


# The banner on the public page


def banner(client, page):
    response = client.get(f"/p/{page.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.rindex("<section", 0, html.index('aria-label="Overall status"'))
    return html[start : html.index("</section>", start)]


def test_the_public_banner_says_all_systems_operational(client, page):
    text = banner(client, page)

    assert "banner-none" in text
    assert "All systems operational" in text


def test_the_public_banner_shows_a_minor_incident(client, page):
    Incident.declare(page, name="Heads up", impact_override="minor")

    assert "Minor service outage" in banner(client, page)


def test_the_public_banner_shows_a_component_outage(client, page, api):
    Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    text = banner(client, page)
    assert "banner-critical" in text
    assert "Major system outage" in text


def test_the_public_banner_returns_to_operational_once_resolved(client, page, api):
    incident = Incident.declare(page, name="Outage", component_statuses={api: "partial_outage"})
    assert "Partial system outage" in banner(client, page)

    incident.post_update("resolved", "Fixed.")

    assert "All systems operational" in banner(client, page)


def test_the_public_banner_shows_maintenance_in_progress(client, page, api):
    now = timezone.now()
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[api],
    )
    assert "All systems operational" in banner(client, page)

    maintenance.post_update("in_progress", "Started early.")

    assert "Service under maintenance" in banner(client, page)


def test_the_public_banner_prefers_an_incident_over_maintenance(client, page, api):
    now = timezone.now()
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[api],
    )
    maintenance.post_update("in_progress", "Started early.")
    Incident.declare(page, name="Heads up", impact_override="major")

    assert "Partial system outage" in banner(client, page)
