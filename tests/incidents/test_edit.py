"""Incident.edit and the other domain writes that every interface shares: what may change when,
the reminder, and the audit log entry they leave."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import MAINTENANCE_STARTED_BODY, RESOLVED_BODY, Incident
from status.models import AuditLogEntry
from tests.factories import make_maintenance


@pytest.fixture
def maintenance(page, api):
    return make_maintenance(
        page, timezone.now() + timedelta(days=1), components=[api], remind_before_minutes=30
    )


def test_moving_the_start_rearms_the_reminder_and_moves_the_start(maintenance):
    Incident.objects.filter(pk=maintenance.pk).update(reminder_sent_at=timezone.now())
    later = maintenance.scheduled_for + timedelta(hours=3)

    maintenance.edit(by=None, scheduled_for=later, scheduled_until=later + timedelta(hours=1))

    maintenance.refresh_from_db()
    assert maintenance.reminder_sent_at is None
    assert maintenance.reminder_due_at == later - timedelta(minutes=30)
    assert maintenance.started_at == later
    entry = AuditLogEntry.objects.filter(action="maintenance.edit").get()
    assert entry.actor is None and entry.api_key is None  # the platform did it
    assert entry.after["scheduled_for"] != entry.before["scheduled_for"]


def test_a_maintenance_in_progress_may_end_later_but_not_start_elsewhere(maintenance, website):
    maintenance.post_update("in_progress")
    started = Incident.objects.get(pk=maintenance.pk).started_at

    maintenance.edit(by=None, scheduled_until=maintenance.scheduled_until + timedelta(hours=1))
    with pytest.raises(ValidationError):
        maintenance.edit(by=None, scheduled_for=maintenance.scheduled_for - timedelta(hours=1))
    with pytest.raises(ValidationError):
        maintenance.edit(by=None, components=[website])

    maintenance.refresh_from_db()
    assert maintenance.started_at == started  # its real start, not the planned one
    assert maintenance.updates.order_by("id").last().body == MAINTENANCE_STARTED_BODY


def test_an_incident_cannot_be_given_a_window(page):
    incident = Incident.declare(page, name="Slow", notify=False)
    with pytest.raises(ValidationError):
        incident.edit(by=None, scheduled_for=timezone.now())


def test_cancelling_maintenance_that_started_is_refused(maintenance):
    maintenance.post_update("in_progress")
    with pytest.raises(ValidationError):
        maintenance.cancel()


def test_a_backfilled_incident_cannot_start_in_the_future(page):
    with pytest.raises(ValidationError):
        Incident.backfill(page, name="Later", started_at=timezone.now() + timedelta(days=1))
    assert not Incident.objects.exists()


def test_a_backfill_with_an_end_has_two_updates_and_notifies_nobody(page, api):
    start = timezone.now() - timedelta(days=2)
    incident = Incident.backfill(
        page,
        name="Old outage",
        body="It was down.",
        component_statuses={api: "major_outage"},
        started_at=start,
        resolved_at=start + timedelta(hours=1),
    )

    updates = list(incident.updates.order_by("display_at"))
    assert [(u.status, u.body) for u in updates] == [
        ("investigating", "It was down."),
        ("resolved", RESOLVED_BODY),
    ]
    assert incident.resolved_at == start + timedelta(hours=1)
    assert not incident.page.notification_events.exists()
    assert AuditLogEntry.objects.get(action="incident.backfill").object_code == incident.code
