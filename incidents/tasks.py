import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from incidents import alerts
from incidents.models import Incident, IncidentStatus

log = logging.getLogger(__name__)


@shared_task
def advance_maintenance():
    """Start, complete and send reminders for maintenance whose time has come (beat, 30 s)."""
    now = timezone.now()
    started = completed = reminded = 0
    for incident in Incident.objects.due_to_start(now):
        started += transition(incident, IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS)
    for incident in Incident.objects.due_to_complete(now):
        completed += transition(
            incident,
            [IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING],
            IncidentStatus.COMPLETED,
        )
    for incident in Incident.objects.due_for_reminder(now):
        reminded += incident.send_reminder()
    if started or completed or reminded:
        log.info("maintenance: %d started, %d completed, %d reminded", started, completed, reminded)
    return {"started": started, "completed": completed, "reminded": reminded}


def transition(incident, from_statuses, to_status):
    """One maintenance moves on, once, even when two schedulers race for it; the update has
    its status's default text and is done by the platform (no user, no key)."""
    if isinstance(from_statuses, str):
        from_statuses = [from_statuses]
    with transaction.atomic():
        locked = (
            Incident.objects.select_for_update(skip_locked=True)
            .filter(pk=incident.pk, status__in=from_statuses)
            .first()
        )
        if locked is None:
            return 0
        notify = (
            locked.notify_on_start
            if to_status == IncidentStatus.IN_PROGRESS
            else (locked.notify_on_complete)
        )
        locked.post_update(to_status, notify=notify)
    return 1


@shared_task
def promote_held_alerts():
    """Alerts that have fired through their integration's hold-down take their components
    (beat, 10 s)."""
    return {"promoted": alerts.promote_due()}
