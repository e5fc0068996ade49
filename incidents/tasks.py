import logging

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from incidents import alerts, monitors
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


# "A processing task is queued for integration N" (incidents/hooks.py): set by the first request
# that finds it unset, cleared by the task as it starts, before it reads the queue, so a burst
# of requests sends one task. Its expiry bounds how long a lost task keeps others from being
# sent; sweep_alert_requests applies what such a task left.
ALERT_TASK_FLAG = "alerts:task-queued:{}"
ALERT_TASK_FLAG_SECONDS = 30
ALERT_TASK_SECONDS = 60


def queue_alert_processing(integration_id):
    """Make sure one process_alert_requests task is queued for the integration."""
    try:
        first = cache.add(ALERT_TASK_FLAG.format(integration_id), 1, ALERT_TASK_FLAG_SECONDS)
    except Exception:
        log.warning("alert task flag unavailable; sending a task", exc_info=True)
        first = True
    if not first:
        return
    try:
        process_alert_requests.delay(integration_id)
    except Exception:
        # The request is recorded: sweep_alert_requests applies it once the broker is back.
        # The flag stays, so that the requests after it do not each wait for the broker.
        log.exception("could not send the alert task of integration %s", integration_id)


@shared_task
def process_alert_requests(integration_id):
    """Apply the integration's queued hook requests in the order received."""
    try:
        cache.delete(ALERT_TASK_FLAG.format(integration_id))
    except Exception:
        log.warning("alert task flag unavailable", exc_info=True)
    applied = alerts.process_queued(integration_id, seconds=ALERT_TASK_SECONDS)
    if alerts.has_queued(integration_id):
        # Still busy after ALERT_TASK_SECONDS: the rest is the next task's (well within the
        # soft time limit, and other integrations' tasks get the worker in between).
        queue_alert_processing(integration_id)
    return {"applied": applied}


@shared_task
def sweep_alert_requests():
    """Hook requests queued longer than alerts.SWEEP_AFTER_SECONDS (their task was lost):
    applied here (beat, 10 s)."""
    applied = 0
    for integration_id in alerts.lost_queues():
        applied += alerts.process_queued(integration_id)
    return {"applied": applied}


@shared_task
def schedule_monitors():
    """Claim the monitors whose check is due and send their checks in batches (beat, 2 s)."""
    return monitors.schedule_due(send=run_monitor_checks.delay)


@shared_task
def run_monitor_checks(batch):
    """Run a batch of claimed checks, [(monitor id, due at)], and record their results."""
    return {"checked": monitors.run_batch(batch)}


@shared_task
def prune_monitor_results():
    """Monitor results past MONITOR_RESULTS_RETENTION_DAYS (beat, hourly)."""
    return {"pruned": monitors.prune_results()}
