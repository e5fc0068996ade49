"""Celery tasks of the outbox: thin, the work is on the models (see notifications/models.py).

A message is only a hint that there is work: each task reads the database to find what is
really to be done, so a duplicate message does nothing and a lost one costs only the time until
the sweeper runs.
"""

import logging
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun, worker_ready
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from notifications import chat, emails, importing, outbox, sms, webhooks
from notifications.models import (
    HTTP_CHANNELS,
    SMS_CODE_MAX_AGE,
    Channel,
    Delivery,
    DeliveryStatus,
    NotificationEvent,
    SentRecorder,
    Subscriber,
    SubscriberState,
    TransportError,
    record_all_sent,
)
from notifications.transports import TRANSPORTS, WEBHOOK_TIMEOUT, ChatTransport, SmsTransport

log = logging.getLogger(__name__)

# The channels whose batches are sent from threads (send_concurrently): a request each, to the
# subscriber's endpoint or to Twilio, mostly spent waiting for the answer.
CONCURRENT_CHANNELS = (*HTTP_CHANNELS, Channel.SMS)


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender=None, **kwargs):
    """Around each task in a worker, what Django does around each request: drop a connection
    that is broken or older than CONN_MAX_AGE, keep the others (CELERY_DB_REUSE_MAX stops
    Celery from closing them all). Not for tasks run in-process, inside the caller's
    transaction."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        close_old_connections()


@shared_task
def fan_out(event_id):
    """One Delivery per subscriber of the event, enqueued as each chunk is committed."""
    event = (
        NotificationEvent.objects.select_related("page", "incident", "update", "component")
        .filter(pk=event_id)
        .first()
    )
    if event is None or not event.claim_fan_out():
        return 0
    count = 0
    for rows in event.fan_out():
        outbox.enqueue_deliveries(rows)
        count += len(rows)
    return count


@shared_task
def deliver(delivery_ids):
    """Claim these deliveries, send those still pending and due, record each outcome."""
    claim, deliveries = Delivery.objects.claim(delivery_ids)
    lease = Lease(claim)
    sent = 0
    try:
        for channel in {delivery.channel for delivery in deliveries}:
            batch = [delivery for delivery in deliveries if delivery.channel == channel]
            transport = TRANSPORTS[channel]()
            try:
                transport.open()
            except TransportError as error:
                for delivery in batch:
                    delivery.record_failure(error)
                continue
            try:
                if channel in CONCURRENT_CHANNELS and len(batch) > 1:
                    sent += send_concurrently(batch, transport, lease)
                    continue
                with SentRecorder(threaded=len(batch) > 1) as recorder:
                    for delivery in batch:
                        lease.keep()
                        sent += attempt(delivery, transport, recorder) == "sent"
            finally:
                transport.close()
    finally:
        # Whatever this claim still holds (a time limit, a crash) is handed back at once.
        Delivery.objects.release(claim)
    return sent


NOT_STARTED = object()


def send_concurrently(batch, transport, lease):
    """Send a batch of webhooks, chat messages or SMS from NOTIFICATIONS_WEBHOOK_THREADS threads
    at once, each request with its own timeouts; returns how many were sent.

    This thread first sets aside what is not to be sent (a subscriber who no longer wants it,
    an SMS past its page's daily cap) and builds each event's message once. The threads sign
    each webhook body as they send it (its webhook-timestamp is when it goes) and make the
    request; this thread records every outcome: the successes that have arrived
    together in one UPDATE, as they arrive, so a worker killed mid-batch repeats only the
    requests in flight and those answered but not yet written, and leaves the rest, still
    claimed, to the sweeper. No request starts once a batch has run so long that its slowest
    request could outlast the task's time limit: those are handed back
    (Delivery.objects.release).
    """
    start_by = last_start()
    requests = []
    for delivery in batch:
        if not delivery.subscriber.wants():
            delivery.finish(DeliveryStatus.SKIPPED, error="The subscriber no longer wants it.")
        elif delivery.within_sms_cap():
            requests.append(delivery)
    for event in {delivery.event_id: delivery.event for delivery in requests}.values():
        # Built here, where the database is, before the threads.
        if isinstance(transport, ChatTransport):
            transport.ready(event)
        elif isinstance(transport, SmsTransport):
            transport.text(event)
        else:
            webhooks.body_parts(event)

    def post(delivery):
        if time.monotonic() > start_by:
            return NOT_STARTED
        try:
            return transport.post(transport.prepare(delivery))
        except TransportError as error:
            return error
        except Exception as error:  # noqa: BLE001 (a bug in one message must not stop others)
            log.exception("delivery %s failed unexpectedly", delivery.pk)
            return TransportError(f"Internal error: {error!r}")

    if not requests:
        return 0
    sent = 0
    threads = max(1, min(settings.NOTIFICATIONS_WEBHOOK_THREADS, len(requests)))
    executor = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
    try:
        waiting = {executor.submit(post, delivery): delivery for delivery in requests}
        while waiting:
            done, _ = wait(waiting, timeout=5, return_when=FIRST_COMPLETED)
            lease.keep()
            answered = []
            for future in done:
                delivery, outcome = waiting.pop(future), future.result()
                if outcome is NOT_STARTED:
                    continue  # still claimed: released below
                if isinstance(outcome, TransportError):
                    record_failure(delivery, outcome)
                else:
                    delivery.response_code = outcome
                    answered.append(delivery)
            sent += record_sent(answered)
    finally:
        # Normally all done; after an error (a time limit), no request that has not started
        # starts (what is still claimed is handed back).
        executor.shutdown(wait=False, cancel_futures=True)
    return sent


def last_start():
    """The monotonic time after which a batch starts no more requests: one that starts then
    still ends (three times its timeouts) before the task's soft time limit."""
    budget = settings.CELERY_TASK_SOFT_TIME_LIMIT - 4 * WEBHOOK_TIMEOUT
    return time.monotonic() + max(budget, WEBHOOK_TIMEOUT)


def record_failure(delivery, error):
    try:
        delivery.record_failure(error)
    except Exception:  # noqa: BLE001 (left "sending": released and tried again)
        log.exception("delivery %s: recording its failure failed", delivery.pk)


def record_sent(deliveries):
    try:
        return record_all_sent(deliveries) if deliveries else 0
    except Exception:  # noqa: BLE001 (left "sending": released and sent again)
        log.exception("recording %d deliveries sent failed", len(deliveries))
        return 0


class Lease:
    """Keeps a claim's lease ahead of the work: renewed before a send once a third of it has
    passed, so it always outlasts the next send (its timeout is shorter than the lease), and
    runs out within NOTIFICATIONS_LEASE_SECONDS of this worker dying."""

    def __init__(self, claim):
        self.claim = claim
        self.renewed = time.monotonic()

    def keep(self):
        if time.monotonic() - self.renewed >= settings.NOTIFICATIONS_LEASE_SECONDS / 3:
            Delivery.objects.renew(self.claim)
            self.renewed = time.monotonic()


def attempt(delivery, transport, recorder=None):
    try:
        return delivery.attempt(transport, recorder)
    except SoftTimeLimitExceeded:
        raise
    except Exception as error:  # noqa: BLE001 (a bug in one message must not stop the batch)
        log.exception("delivery %s failed unexpectedly", delivery.pk)
        return delivery.record_failure(TransportError(f"Internal error: {error!r}"))


@worker_ready.connect
def sweep_when_a_worker_starts(sender=None, **kwargs):
    """A worker (re)started, perhaps after a crash or with a broker restarted empty: what waits
    in the database is enqueued now rather than at beat's next sweep. Run here, in the worker's
    main process, not sent as a message: a message still unacknowledged when the broker drops
    makes kombu fail while restoring it."""
    try:
        sweep()
    except Exception:  # noqa: BLE001 (beat sweeps again shortly)
        log.exception("the sweep at worker start failed")
    finally:
        connection.close()


@shared_task
def sweep():
    """Celery beat, every minute: re-enqueue events not fanned out and deliveries that are due
    (retries, expired leases, messages lost with Redis)."""
    # The sweeper is how things recover: it tries the broker whatever an earlier failure in this
    # process said (should the broker still be down, the first failure pauses sending again).
    outbox.Broker.down_until = 0.0
    now = timezone.now()
    events = list(
        NotificationEvent.objects.needing_fan_out(now).values_list("pk", flat=True)[:1000]
    )
    for event_id in events:
        NotificationEvent.objects.filter(pk=event_id, fan_out_lease_until__lt=now).update(
            fan_out_lease_until=None
        )
        outbox.enqueue(fan_out, event_id)
    rows = Delivery.objects.sweep(now)
    outbox.enqueue_deliveries(rows)
    importing.tend_imports(now)
    if events or rows:
        log.info("sweep: %d events to fan out, %d deliveries re-enqueued", len(events), len(rows))
    return {"events": len(events), "deliveries": len(rows)}


@shared_task
def send_subscriber_email(subscriber_id, name):
    """A subscriber's own email (confirm, already_subscribed, webhook_quarantined)."""
    subscriber = Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    if subscriber is None or not subscriber.email:
        return
    if name == "confirm" and subscriber.state != SubscriberState.PENDING:
        return
    emails.send_subscriber_email(subscriber, name)


@shared_task
def send_chat_confirmation(subscriber_id):
    """A new chat subscription's message to its channel, carrying the confirmation link (the
    chat's own confirmation email); for a channel subscribed already, its manage link. Sent
    once, not retried: whoever asked can ask again."""
    subscriber = Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    if subscriber is None or not subscriber.is_chat:
        return None
    page = subscriber.page
    if subscriber.state == SubscriberState.PENDING:
        message = chat.confirmation_message(page.name, page.public_url(), subscriber.confirm_url)
    elif subscriber.state == SubscriberState.CONFIRMED:
        message = chat.already_subscribed_message(
            page.name, page.public_url(), subscriber.manage_url
        )
    else:
        return None
    transport = TRANSPORTS[subscriber.channel]()
    body = chat.body_bytes(subscriber.channel, message)
    try:
        transport.open()
        return transport.post((subscriber.endpoint, body, transport.prepare_headers()))
    except TransportError as error:
        log.warning("subscriber %s: the confirmation message failed: %s", subscriber.pk, error)
        return None


@shared_task
def send_sms_code(subscriber_id):
    """A new SMS subscription's opt-in code, by SMS (its confirmation email). Sent once, not
    retried (whoever asked can ask again). Codes have their own limits, counted when asked
    for (models.take_sms_code), not the page's daily cap, which is for notifications."""
    subscriber = Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    if subscriber is None or not subscriber.is_sms or subscriber.state != SubscriberState.PENDING:
        return None
    page = subscriber.page
    code = subscriber.new_sms_code()
    minutes = int(SMS_CODE_MAX_AGE.total_seconds() // 60)
    text = sms.code_text(page.name, code, minutes, page.public_url("subscribe/sms/"))
    try:
        transport = SmsTransport()
        transport.open()
        return transport.send(subscriber.phone_number, text)[0]
    except TransportError as error:
        log.warning("subscriber %s: the opt-in code failed: %s", subscriber.pk, error)
        return None


@shared_task
def plan_import(run_id):
    """Read an import's source and try it, rolled back (notifications/importing.py)."""
    importing.plan_run(run_id)


@shared_task
def apply_import(run_id):
    """Apply a planned import, step by step (notifications/importing.py)."""
    importing.apply_run(run_id)
