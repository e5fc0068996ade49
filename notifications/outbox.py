"""Sending the outbox's Celery messages. A message is only a hint that there is work (the
sweeper finds in the database whatever was not enqueued), so a broker that is down is logged,
never raised to the writer.

Tasks are named, not imported: the models enqueue them, and the tasks module imports the
models, so naming keeps the dependency one way (Celery resolves the name when it sends).
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

FAN_OUT = "notifications.tasks.fan_out"
DELIVER = "notifications.tasks.deliver"
SEND_SUBSCRIBER_EMAIL = "notifications.tasks.send_subscriber_email"
EMAIL = "email"  # Channel.EMAIL, whose deliveries go in batches


def enqueue(task, *args):
    """Send `task` (a task or its name) a message; with the broker down, log it and go on.
    Returns whether the message went."""
    if isinstance(task, str):
        task = current_app.tasks[task]
    try:
        task.delay(*args)
    except OperationalError:
        log.warning("broker unreachable: %s%r not enqueued, the sweeper will", task.name, args)
        return False
    return True


def enqueue_on_commit(task, *args):
    """Enqueue once the writer's transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(task, *args))


def enqueue_deliveries(rows):
    """Enqueue deliveries given as [(id, channel)]: emails in batches (one SMTP connection
    each), other channels one by one (one slow endpoint must not hold up others)."""
    email_ids = [pk for pk, channel in rows if channel == EMAIL]
    size = settings.NOTIFICATIONS_EMAIL_BATCH
    for start in range(0, len(email_ids), size):
        enqueue(DELIVER, email_ids[start : start + size])
    for pk, channel in rows:
        if channel != EMAIL:
            enqueue(DELIVER, [pk])
