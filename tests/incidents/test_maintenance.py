from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from incidents.models import MAINTENANCE_COMPLETED_BODY, MAINTENANCE_STARTED_BODY, Incident
from incidents.tasks import advance_maintenance
from notifications.models import NotificationEvent
from tests.factories import make_maintenance
from tests.records import event_kinds, fresh, history

WINDOW_OPENS = timedelta(hours=2)
WINDOW_CLOSES = timedelta(hours=4)


@pytest.fixture
def clock(page):
    """Time frozen a day after the fixtures were made; move it with `clock.move_to(...)`."""
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    with time_machine.travel(start, tick=False) as traveller:
        traveller.start = start
        yield traveller


def schedule_upgrade(page, clock, components, **options):
    """The database upgrade, from two to four hours after the clock's start."""
    return make_maintenance(
        page,
        clock.start + WINDOW_OPENS,
        WINDOW_CLOSES - WINDOW_OPENS,
        body="We will upgrade the primary database.",
        components=components,
        **options,
    )


def statuses(incident):
    """The statuses of the incident's updates, oldest first."""
    return list(incident.updates.order_by("display_at", "id").values_list("status", flat=True))


# Scheduling


def test_scheduling_records_the_window_and_a_scheduled_update(page, clock, api):
    maintenance = fresh(schedule_upgrade(page, clock, [api]))

    assert maintenance.kind == "maintenance"
    assert maintenance.status == "scheduled"
    assert maintenance.impact == "maintenance"
    assert maintenance.scheduled_for == clock.start + WINDOW_OPENS
    assert maintenance.scheduled_until == clock.start + WINDOW_CLOSES
    assert list(maintenance.components.all()) == [api]
    [update] = maintenance.updates.all()
    assert update.status == "scheduled"
    assert update.body == "We will upgrade the primary database."
    assert event_kinds(page) == ["maintenance_scheduled"]
    assert fresh(api).status == "operational"


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-30)])
def test_scheduling_refuses_a_window_that_ends_before_it_starts(page, clock, api, length):
    start = clock.start + WINDOW_OPENS

    with pytest.raises(ValidationError):
        Incident.schedule(
            page, name="Backwards", scheduled_for=start, scheduled_until=start + length
        )

    assert not Incident.objects.exists()
    assert not NotificationEvent.objects.exists()


# Starting and completing


def test_nothing_happens_before_the_window_opens(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS - timedelta(seconds=1))

    assert advance_maintenance() == {"started": 0, "completed": 0, "reminded": 0}

    assert fresh(maintenance).status == "scheduled"
    assert statuses(maintenance) == ["scheduled"]
    assert fresh(api).status == "operational"


def test_maintenance_starts_when_its_window_opens(page, clock, api, website):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)

    assert advance_maintenance()["started"] == 1

    maintenance = fresh(maintenance)
    assert maintenance.status == "in_progress"
    assert maintenance.started_at == clock.start + WINDOW_OPENS
    assert maintenance in Incident.objects.active_maintenance()
    started = maintenance.updates.get(status="in_progress")
    assert started.body == MAINTENANCE_STARTED_BODY
    assert started.body.strip()
    assert started.display_at == clock.start + WINDOW_OPENS
    assert {(i.component, i.old_status, i.new_status) for i in started.impacts.all()} == {
        (api, "operational", "under_maintenance")
    }
    assert fresh(api).status == "under_maintenance"
    assert history(api) == [
        ("operational", False, None),
        ("under_maintenance", True, maintenance),
    ]
    assert fresh(website).status == "operational"
    assert event_kinds(page) == ["maintenance_scheduled", "maintenance_started"]


def test_maintenance_completes_when_its_window_closes_and_restores_components(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    clock.move_to(clock.start + WINDOW_CLOSES)

    assert advance_maintenance()["completed"] == 1

    maintenance = fresh(maintenance)
    assert maintenance.status == "completed"
    assert maintenance.resolved_at == clock.start + WINDOW_CLOSES
    assert statuses(maintenance) == ["scheduled", "in_progress", "completed"]
    assert maintenance.updates.get(status="completed").body == MAINTENANCE_COMPLETED_BODY
    assert fresh(api).status == "operational"
    assert history(api) == [
        ("operational", False, None),
        ("under_maintenance", False, maintenance),
        ("operational", True, maintenance),
    ]
    window = api.status_changes.get(status="under_maintenance")
    assert window.ended_at - window.started_at == WINDOW_CLOSES - WINDOW_OPENS
    assert event_kinds(page) == [
        "maintenance_scheduled",
        "maintenance_started",
        "maintenance_completed",
    ]


def test_a_maintenance_being_verified_also_completes_at_the_end_of_its_window(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    maintenance.post_update("verifying", "Checking replication.")
    clock.move_to(clock.start + WINDOW_CLOSES)

    advance_maintenance()

    assert fresh(maintenance).status == "completed"
    assert fresh(api).status == "operational"


def test_a_scheduler_that_wakes_after_the_window_starts_and_completes_it(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_CLOSES + timedelta(minutes=5))

    assert advance_maintenance() == {"started": 1, "completed": 1, "reminded": 0}

    assert fresh(maintenance).status == "completed"
    assert statuses(maintenance) == ["scheduled", "in_progress", "completed"]
    assert fresh(api).status == "operational"


def test_maintenance_without_auto_start_waits_for_staff(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api], auto_start=False)
    clock.move_to(clock.start + WINDOW_OPENS + timedelta(minutes=1))

    advance_maintenance()

    assert fresh(maintenance).status == "scheduled"
    assert fresh(api).status == "operational"

    maintenance.post_update("in_progress", "Starting now.")
    assert fresh(api).status == "under_maintenance"


def test_maintenance_without_auto_complete_stays_in_progress(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api], auto_complete=False)
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    clock.move_to(clock.start + WINDOW_CLOSES + timedelta(hours=1))

    advance_maintenance()

    assert fresh(maintenance).status == "in_progress"
    assert fresh(api).status == "under_maintenance"


def test_running_the_scheduler_twice_moves_maintenance_once(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)

    advance_maintenance()
    assert advance_maintenance() == {"started": 0, "completed": 0, "reminded": 0}

    assert statuses(maintenance) == ["scheduled", "in_progress"]
    assert len(history(api)) == 2
    assert event_kinds(page) == ["maintenance_scheduled", "maintenance_started"]

    clock.move_to(clock.start + WINDOW_CLOSES)
    advance_maintenance()
    advance_maintenance()

    assert statuses(maintenance) == ["scheduled", "in_progress", "completed"]
    assert event_kinds(page).count("maintenance_completed") == 1


def test_completing_maintenance_leaves_a_component_an_open_incident_holds(page, clock, api):
    schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    clock.move_to(clock.start + WINDOW_CLOSES)

    advance_maintenance()

    assert fresh(api).status == "major_outage"


# Reminders


def test_a_reminder_is_recorded_once_when_it_falls_due(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api], remind_before_minutes=60)

    clock.move_to(clock.start + WINDOW_OPENS - timedelta(minutes=61))
    advance_maintenance()
    assert event_kinds(page) == ["maintenance_scheduled"]

    clock.move_to(clock.start + WINDOW_OPENS - timedelta(minutes=60))
    assert advance_maintenance()["reminded"] == 1
    assert event_kinds(page) == ["maintenance_scheduled", "maintenance_reminder"]
    assert fresh(maintenance).reminder_sent_at == clock.start + WINDOW_OPENS - timedelta(hours=1)

    clock.move_to(clock.start + WINDOW_OPENS - timedelta(minutes=30))
    advance_maintenance()
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()

    assert event_kinds(page) == [
        "maintenance_scheduled",
        "maintenance_reminder",
        "maintenance_started",
    ]
    assert NotificationEvent.objects.get(kind="maintenance_reminder").incident == maintenance


def test_no_reminder_is_sent_once_the_maintenance_has_started(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api], remind_before_minutes=60)
    clock.move_to(clock.start + WINDOW_OPENS + timedelta(minutes=1))

    assert advance_maintenance()["reminded"] == 0

    assert fresh(maintenance).reminder_sent_at is None
    assert "maintenance_reminder" not in event_kinds(page)


def test_no_reminder_is_sent_after_the_start_time_even_without_auto_start(page, clock, api):
    schedule_upgrade(page, clock, [api], remind_before_minutes=60, auto_start=False)
    clock.move_to(clock.start + WINDOW_OPENS + timedelta(minutes=1))

    advance_maintenance()

    assert "maintenance_reminder" not in event_kinds(page)


def test_no_reminder_is_sent_when_none_was_asked_for(page, clock, api):
    schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS - timedelta(minutes=1))

    advance_maintenance()

    assert "maintenance_reminder" not in event_kinds(page)


# The management command


def test_run_scheduler_once_starts_due_maintenance(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    out = StringIO()

    call_command("run_scheduler", "--once", stdout=out)

    assert fresh(maintenance).status == "in_progress"
    assert statuses(maintenance) == ["scheduled", "in_progress"]
    assert fresh(api).status == "under_maintenance"
    assert "'started': 1" in out.getvalue()


def test_run_scheduler_once_is_quiet_when_nothing_is_due(page, clock, api):
    maintenance = schedule_upgrade(page, clock, [api])
    out = StringIO()

    call_command("run_scheduler", "--once", stdout=out)

    assert fresh(maintenance).status == "scheduled"
    assert out.getvalue() == ""


# QuerySets


def test_querysets_sort_incidents_and_maintenance_by_state(page, clock, api, website):
    open_incident = Incident.declare(page, name="Open", component_statuses={api: "major_outage"})
    resolved = Incident.declare(page, name="Resolved")
    resolved.post_update("resolved", "Fixed.")
    upcoming = schedule_upgrade(page, clock, [website])
    active = schedule_upgrade(page, clock, [api])
    active.post_update("in_progress", "Started early.")
    verifying = schedule_upgrade(page, clock, [])
    verifying.post_update("in_progress", "Started early.")
    verifying.post_update("verifying", "Checking.")
    completed = schedule_upgrade(page, clock, [])
    completed.post_update("completed", "Cancelled.")

    assert set(Incident.objects.unresolved()) == {open_incident}
    assert set(Incident.objects.upcoming()) == {upcoming}
    assert set(Incident.objects.active_maintenance()) == {active, verifying}
    assert set(Incident.objects.open()) == {open_incident, upcoming, active, verifying}
    assert resolved not in Incident.objects.open()
    assert completed not in Incident.objects.open()


def test_a_reopened_incident_is_unresolved_again(page, clock):
    incident = Incident.declare(page, name="Flapping")
    incident.post_update("resolved", "Fixed.")
    assert not Incident.objects.unresolved().exists()

    incident.post_update("investigating", "Back again.")

    assert list(Incident.objects.unresolved()) == [incident]


def test_completing_maintenance_hands_a_component_back_to_the_open_incident(page, clock, api):
    Incident.declare(page, name="Slow API", component_statuses={api: "degraded_performance"})
    schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    assert fresh(api).status == "under_maintenance"
    clock.move_to(clock.start + WINDOW_CLOSES)

    advance_maintenance()

    assert fresh(api).status == "degraded_performance"


def test_resolving_an_incident_during_maintenance_hands_the_component_back(page, clock, api):
    schedule_upgrade(page, clock, [api])
    clock.move_to(clock.start + WINDOW_OPENS)
    advance_maintenance()
    incident = Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    incident.post_update("resolved", "Fixed.")

    assert fresh(api).status == "under_maintenance"
