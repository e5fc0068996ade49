"""Sending the outbox's Celery messages. A message is only a hint that there is work (the
sweeper finds in the database whatever was not enqueued), so a broker that is down, slow or
restarted empty is logged, never raised to the writer: the write has committed, and what runs
on commit must not turn it into an error.

After a failed send no message is tried for settings.BROKER_RETRY_SECONDS, so an outage costs
one short timeout, not one per message; the first send that goes through after an outage also
asks for a sweep, which enqueues at once what was missed.

Tasks are named, not imported: the models enqueue them, and the tasks module imports the
models, so naming keeps the dependency one way (Celery resolves the name when it sends).
"""

import logging
import time

from celery import current_app
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

FAN_OUT = "notifications.tasks.fan_out"
DELIVER = "notifications.tasks.deliver"
SWEEP = "notifications.tasks.sweep"
SEND_SUBSCRIBER_EMAIL = "notifications.tasks.send_subscriber_email"
EMAIL = "email"  # Channel.EMAIL, whose deliveries go in batches
# What sending raises when the broker is down, slow or gone (kombu wraps most of them).
BROKER_ERRORS = (OperationalError, RedisError, OSError)


class Broker:
    """Whether sending failed recently (shared by the process's threads)."""

    down_until = 0.0
    was_down = False


def enqueue(task, *args):
    """Send `task` (a task or its name) a message. With the broker unreachable, log it and go
    on. Returns whether the message went."""
    if isinstance(task, str):
        task = current_app.tasks[task]
    if time.monotonic() < Broker.down_until:
        return False
    try:
        task.delay(*args)
    except BROKER_ERRORS as error:
        if not Broker.was_down:
            log.warning("broker unreachable (%s): messages wait for the sweeper", error)
        Broker.down_until = time.monotonic() + settings.BROKER_RETRY_SECONDS
        Broker.was_down = True
        return False
    if Broker.was_down and task.name != SWEEP:
        Broker.was_down = False
        log.info("broker reachable again: sweeping what was missed")
        enqueue(SWEEP)
    return True


def on_commit(callback):
    """Run `callback` once the writer's transaction commits (at once outside one); an error in
    it is logged, never raised to the writer, whose write has committed."""
    transaction.on_commit(callback, robust=True)


def enqueue_on_commit(task, *args):
    """Enqueue once the writer's transaction commits."""
    on_commit(lambda: enqueue(task, *args))


def enqueue_deliveries(rows):
    """Enqueue deliveries given as [(id, channel)] in batches: emails over one SMTP connection
    each (NOTIFICATIONS_EMAIL_BATCH), webhooks sent concurrently by one task each
    (NOTIFICATIONS_WEBHOOK_BATCH; a slow endpoint holds one of its threads, not the others)."""
    sizes = {EMAIL: settings.NOTIFICATIONS_EMAIL_BATCH}
    by_channel = {}
    for pk, channel in rows:
        by_channel.setdefault(channel, []).append(pk)
    for channel, ids in by_channel.items():
        size = max(1, sizes.get(channel, settings.NOTIFICATIONS_WEBHOOK_BATCH))
        for start in range(0, len(ids), size):
            enqueue(DELIVER, ids[start : start + size])
