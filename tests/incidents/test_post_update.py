from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import ComponentImpact, Incident, IncidentUpdate
from notifications.models import NotificationEvent
from status.models import Component, ComponentStatusChange
from tests.records import event_kinds, fresh, history


def impacts(update):
    return {(i.component.name, i.old_status, i.new_status) for i in update.impacts.all()}


# Declaring


def test_declaring_opens_the_incident_with_its_first_update(page, api, editor_a):
    incident = Incident.declare(
        page,
        name="API errors",
        body="We are looking into elevated error rates.",
        component_statuses={api: "partial_outage"},
        by=editor_a,
    )

    incident = fresh(incident)
    assert incident.status == "investigating"
    assert incident.kind == "incident"
    [update] = incident.updates.all()
    assert update.status == "investigating"
    assert update.body == "We are looking into elevated error rates."
    assert update.author == editor_a
    assert impacts(update) == {("API", "operational", "partial_outage")}
    assert list(incident.components.all()) == [api]


def test_declaring_moves_components_and_writes_their_history_with_the_incident_as_cause(
    page, api, website
):
    incident = Incident.declare(page, name="API errors", component_statuses={api: "major_outage"})

    assert fresh(api).status == "major_outage"
    assert history(api) == [("operational", False, None), ("major_outage", True, incident)]
    assert fresh(website).status == "operational"
    assert history(website) == [("operational", True, None)]


def test_declaring_with_a_later_status_uses_it(page):
    incident = Incident.declare(page, name="Known cause", status="identified")

    incident = fresh(incident)
    assert incident.status == "identified"
    assert incident.identified_at is not None


# Timestamps


def test_timestamps_are_set_when_each_status_is_reached(page):
    incident = Incident.declare(page, name="Outage")
    incident = fresh(incident)
    assert (incident.identified_at, incident.monitoring_at, incident.resolved_at) == (
        None,
        None,
        None,
    )

    identified = incident.post_update("identified", "Found it.")
    incident = fresh(incident)
    assert incident.identified_at == identified.display_at
    assert incident.monitoring_at is None
    assert incident.resolved_at is None

    monitoring = incident.post_update("monitoring", "Fix deployed.")
    incident = fresh(incident)
    assert incident.monitoring_at == monitoring.display_at
    assert incident.resolved_at is None

    resolved = incident.post_update("resolved", "All good.")
    incident = fresh(incident)
    assert incident.resolved_at == resolved.display_at
    assert incident.is_closed
    assert incident.ended_at == resolved.display_at


def test_identified_at_is_not_overwritten_by_a_later_identified_update(page):
    incident = Incident.declare(page, name="Outage")
    first = incident.post_update("identified", "Found it.")
    incident.post_update(
        "identified", "Still on it.", display_at=first.display_at + timedelta(minutes=5)
    )

    assert fresh(incident).identified_at == first.display_at


def test_reopening_a_resolved_incident_clears_resolved_at(page):
    incident = Incident.declare(page, name="Outage")
    incident.post_update("resolved", "Fixed.")
    assert fresh(incident).resolved_at is not None

    incident.post_update("investigating", "It is back.")

    incident = fresh(incident)
    assert incident.status == "investigating"
    assert incident.resolved_at is None
    assert incident.ended_at is None
    assert incident in Incident.objects.unresolved()


# Resolving restores components


def test_resolving_restores_affected_components_to_operational(page, api, website):
    incident = Incident.declare(
        page,
        name="Outage",
        component_statuses={api: "major_outage", website: "degraded_performance"},
    )

    update = incident.post_update("resolved", "Fixed.")

    assert fresh(api).status == "operational"
    assert fresh(website).status == "operational"
    assert history(api) == [
        ("operational", False, None),
        ("major_outage", False, incident),
        ("operational", True, incident),
    ]
    rows = list(api.status_changes.order_by("started_at", "id"))
    assert rows[1].ended_at == rows[2].started_at == update.display_at
    assert impacts(update) == {
        ("API", "major_outage", "operational"),
        ("Website", "degraded_performance", "operational"),
    }


def test_resolving_keeps_a_status_the_resolving_update_gives(page, api, website):
    incident = Incident.declare(
        page, name="Outage", component_statuses={api: "major_outage", website: "major_outage"}
    )

    update = incident.post_update(
        "resolved", "Mostly fixed.", component_statuses={api: "degraded_performance"}
    )

    assert fresh(api).status == "degraded_performance"
    assert fresh(website).status == "operational"
    assert impacts(update) == {
        ("API", "major_outage", "degraded_performance"),
        ("Website", "major_outage", "operational"),
    }


def test_resolving_does_not_restore_a_component_another_open_incident_holds(page, api, website):
    first = Incident.declare(
        page, name="Outage", component_statuses={api: "major_outage", website: "major_outage"}
    )
    Incident.declare(page, name="Also down", component_statuses={api: "major_outage"})

    update = first.post_update("resolved", "Website fixed.")

    assert fresh(api).status == "major_outage"
    assert fresh(website).status == "operational"
    assert impacts(update) == {("Website", "major_outage", "operational")}


def test_resolving_restores_a_component_the_other_incident_no_longer_holds(page, api):
    first = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    second = Incident.declare(page, name="Also down", component_statuses={api: "major_outage"})
    second.post_update("resolved", "Fixed.")
    assert fresh(api).status == "major_outage"

    first.post_update("resolved", "Fixed too.")

    assert fresh(api).status == "operational"


def test_resolving_restores_a_component_that_only_has_maintenance_scheduled(page, api):
    now = timezone.now()
    Incident.schedule(
        page,
        name="Database upgrade",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=2),
        components=[api],
    )
    incident = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    incident.post_update("resolved", "Fixed.")

    assert fresh(api).status == "operational"


def test_resolving_twice_does_not_move_resolved_at_or_components(page, api):
    incident = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    first = incident.post_update("resolved", "Fixed.")
    api.set_status("degraded_performance")

    incident.post_update(
        "resolved", "A closing note.", display_at=first.display_at + timedelta(minutes=5)
    )

    assert fresh(incident).resolved_at == first.display_at
    assert fresh(api).status == "degraded_performance"


# Impact


@pytest.mark.parametrize(
    ("component_status", "impact"),
    [
        ("degraded_performance", "minor"),
        ("partial_outage", "major"),
        ("major_outage", "critical"),
    ],
)
def test_impact_follows_the_worst_component_status(page, api, component_status, impact):
    incident = Incident.declare(page, name="Outage", component_statuses={api: component_status})

    assert fresh(incident).impact == impact


def test_impact_is_the_worst_status_across_components_and_updates(page, api, website):
    incident = Incident.declare(
        page,
        name="Outage",
        component_statuses={api: "degraded_performance", website: "partial_outage"},
    )
    assert fresh(incident).impact == "major"

    incident.post_update(
        "identified", "Better.", component_statuses={website: "degraded_performance"}
    )
    incident = fresh(incident)
    assert incident.impact == "major"
    assert incident.worst_component_status == "partial_outage"

    incident.post_update("monitoring", "Worse.", component_statuses={api: "major_outage"})
    incident = fresh(incident)
    assert incident.impact == "critical"
    assert incident.worst_component_status == "major_outage"


def test_resolution_does_not_lower_the_impact(page, api):
    incident = Incident.declare(page, name="Outage", component_statuses={api: "partial_outage"})

    incident.post_update("resolved", "Fixed.")

    incident = fresh(incident)
    assert incident.impact == "major"
    assert incident.worst_component_status == "partial_outage"


def test_an_impact_override_wins_over_component_statuses(page, api):
    incident = Incident.declare(
        page,
        name="Outage",
        component_statuses={api: "degraded_performance"},
        impact_override="critical",
    )
    assert fresh(incident).impact == "critical"

    incident.post_update("identified", "Worse.", component_statuses={api: "major_outage"})
    assert fresh(incident).impact == "critical"


def test_an_incident_without_components_has_no_impact(page):
    incident = fresh(Incident.declare(page, name="Heads up"))

    assert incident.impact == "none"
    assert incident.worst_component_status == ""
    assert incident.get_impact_display() == "None"


def test_the_impact_is_named_by_its_level_not_by_the_component_status(page, api):
    incident = Incident.declare(page, name="Slow", component_statuses={api: "degraded_performance"})

    incident = fresh(incident)
    assert incident.worst_component_status == "degraded_performance"
    assert incident.get_impact_display() == "Minor"


def test_an_impact_override_is_named_by_its_level(page):
    incident = fresh(Incident.declare(page, name="Heads up", impact_override="major"))

    assert incident.get_impact_display() == "Major"


# Refused updates write nothing


def test_a_maintenance_status_on_an_incident_is_refused_and_writes_nothing(page, api):
    incident = Incident.declare(page, name="Outage")
    before = fresh(page).version

    with pytest.raises(ValidationError):
        incident.post_update("in_progress", "Nope.", component_statuses={api: "major_outage"})

    assert fresh(incident).status == "investigating"
    assert incident.updates.count() == 1
    assert fresh(api).status == "operational"
    assert history(api) == [("operational", True, None)]
    assert event_kinds(page) == ["incident_created"]
    assert fresh(page).version == before


def test_declaring_with_a_maintenance_status_creates_nothing(page):
    with pytest.raises(ValidationError):
        Incident.declare(page, name="Outage", status="in_progress")

    assert not Incident.objects.exists()
    assert not NotificationEvent.objects.exists()


def test_an_incident_status_on_maintenance_is_refused(page, api):
    now = timezone.now()
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[api],
    )

    with pytest.raises(ValidationError):
        maintenance.post_update("resolved", "Nope.")

    assert fresh(maintenance).status == "scheduled"
    assert maintenance.updates.count() == 1


def test_a_component_of_another_page_is_refused_and_writes_nothing(page, api, tenant_b):
    incident = Incident.declare(page, name="Outage")
    theirs = tenant_b.page.components.get(name="API")

    with pytest.raises(ValidationError):
        incident.post_update(
            "identified",
            "Nope.",
            component_statuses={api: "major_outage", theirs: "major_outage"},
        )

    assert fresh(incident).status == "investigating"
    assert incident.updates.count() == 1
    assert fresh(api).status == "operational"
    assert fresh(theirs).status == "operational"
    assert history(theirs) == [("operational", True, None)]
    assert not ComponentImpact.objects.exists()


def test_declaring_with_a_component_of_another_page_creates_nothing(page, tenant_b):
    theirs = tenant_b.page.components.get(name="API")

    with pytest.raises(ValidationError):
        Incident.declare(page, name="Outage", component_statuses={theirs: "major_outage"})

    assert not Incident.objects.exists()
    assert fresh(theirs).status == "operational"
    assert not ComponentStatusChange.objects.filter(incident__isnull=False).exists()


# Notifications


def test_each_notified_update_records_one_event_of_its_kind(page, api):
    incident = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    assert event_kinds(page) == ["incident_created"]

    identified = incident.post_update("identified", "Found it.")
    assert event_kinds(page) == ["incident_created", "incident_updated"]

    resolved = incident.post_update("resolved", "Fixed.")
    assert event_kinds(page) == ["incident_created", "incident_updated", "incident_resolved"]

    events = NotificationEvent.objects.filter(page=page).order_by("id")
    assert [e.update for e in events] == [
        incident.updates.order_by("id").first(),
        identified,
        resolved,
    ]
    assert {e.incident for e in events} == {incident}


def test_updates_without_notify_record_no_event(page, api):
    incident = Incident.declare(
        page, name="Quiet", component_statuses={api: "major_outage"}, notify=False
    )
    update = incident.post_update("resolved", "Fixed.", notify=False)

    assert not NotificationEvent.objects.exists()
    assert update.deliver_notifications is False


def test_maintenance_updates_record_maintenance_events(page, api):
    now = timezone.now()
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[api],
    )
    maintenance.post_update("in_progress", "Started.")
    maintenance.post_update("verifying", "Checking.")
    maintenance.post_update("completed", "Done.")

    assert event_kinds(page) == [
        "maintenance_scheduled",
        "maintenance_started",
        "maintenance_updated",
        "maintenance_completed",
    ]


# Backfilling


def test_a_backfilled_incident_records_impacts_but_leaves_live_status_and_history(
    page, api, website
):
    started = timezone.now() - timedelta(days=3)
    incident = Incident.declare(
        page,
        name="Last week's outage",
        status="resolved",
        component_statuses={api: "major_outage"},
        started_at=started,
        backfilled=True,
        notify=False,
    )

    incident = fresh(incident)
    assert incident.status == "resolved"
    assert incident.started_at == started
    assert incident.resolved_at == started
    assert incident.impact == "critical"
    [update] = incident.updates.all()
    assert update.display_at == started
    assert impacts(update) == {("API", "operational", "major_outage")}
    assert fresh(api).status == "operational"
    assert history(api) == [("operational", True, None)]
    assert history(website) == [("operational", True, None)]


# Rendering


def test_update_bodies_are_rendered_to_sanitised_html_at_save(page):
    incident = Incident.declare(
        page,
        name="Outage",
        body="**Fixed** by [rollback](https://example.com/r) <script>alert(1)</script>",
    )

    update = IncidentUpdate.objects.get(incident=incident)
    assert "<strong>Fixed</strong>" in update.body_html
    assert 'href="https://example.com/r"' in update.body_html
    assert "<script" not in update.body_html
    assert "&lt;script&gt;" in update.body_html


# Postmortems


def test_a_postmortem_needs_a_resolved_incident(page):
    incident = Incident.declare(page, name="Outage")

    with pytest.raises(ValidationError):
        incident.publish_postmortem("What happened.")

    incident = fresh(incident)
    assert incident.status == "investigating"
    assert incident.postmortem_published_at is None
    assert event_kinds(page) == ["incident_created"]


def test_a_postmortem_needs_a_body(page):
    incident = Incident.declare(page, name="Outage", notify=False)
    incident.post_update("resolved", "Fixed.", notify=False)

    with pytest.raises(ValidationError):
        incident.publish_postmortem("   ")

    incident = fresh(incident)
    assert incident.status == "resolved"
    assert incident.postmortem_published_at is None
    assert not NotificationEvent.objects.exists()


def test_publishing_a_postmortem_marks_the_incident_and_records_an_event(page):
    incident = Incident.declare(page, name="Outage", notify=False)
    resolved = incident.post_update("resolved", "Fixed.", notify=False)
    incident = fresh(incident)

    incident.publish_postmortem("## What happened\n\nA *bad* deploy.")

    incident = fresh(incident)
    assert incident.status == "postmortem"
    assert incident.postmortem_published_at is not None
    assert incident.resolved_at == resolved.display_at
    assert incident.is_closed
    assert "<em>bad</em>" in incident.postmortem_html
    assert event_kinds(page) == ["postmortem_published"]
    assert NotificationEvent.objects.get().incident == incident


# Cache invalidation


def test_every_update_bumps_the_page_version(page, api):
    incident = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    versions = [fresh(page).version]

    incident.post_update("identified", "Found it.")
    versions.append(fresh(page).version)
    incident.post_update("identified", "Same status, no components.", notify=False)
    versions.append(fresh(page).version)
    incident.post_update("resolved", "Fixed.")
    versions.append(fresh(page).version)

    assert versions == sorted(set(versions))


def test_posting_an_update_does_not_touch_other_pages(page, api, tenant_b):
    theirs = fresh(tenant_b.page).version

    Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    assert fresh(tenant_b.page).version == theirs
    assert set(Component.objects.filter(page=tenant_b.page).values_list("status", flat=True)) == {
        "operational"
    }
