"""End to end with real parts: PostgreSQL, Redis, a Celery worker process (prefork), an SMTP
sink and an HTTP receiver. Faults: a worker killed with kill -9 in the middle of a fan-out,
Redis down while an update is posted, failing, gone and redirecting endpoints."""

import email.utils
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from incidents.models import Incident
from notifications.models import Delivery, NotificationEvent, Subscriber
from tests.factories import make_subscriber
from tests.notifications.real import REAL_PARTS, attempted, sent
from tests.notifications.servers import RedisServer, wait_for

pytestmark = REAL_PARTS


def test_an_update_reaches_every_subscriber_by_email_and_signed_webhook(page, api, real):
    page.name, page.support_url = "Jelou", "mailto:soporte@jelou.example"
    page.save()
    readers = [make_subscriber(page, f"reader{n}@example.com") for n in range(3)]
    make_subscriber(page, "pending@example.com", state="pending")
    hooks = [make_subscriber(page, real.receiver.url(f"/hook/{n}")) for n in range(2)]
    real.worker()

    with real.broker():
        incident = Incident.declare(page, name="Authentication Service Degradation",
                                    component_statuses={api: "degraded_performance"})  # fmt: skip
        incident.post_update("resolved", "The authentication service is back to normal.")

    wait_for(sent(10), message="10 deliveries")
    deliveries = {
        (d.subscriber_id, d.event.kind): d for d in Delivery.objects.select_related("event")
    }
    assert len(deliveries) == 10 and real.sink.count() == 6 and real.receiver.count() == 4

    messages = [m for m in real.sink.parsed() if "Resolved" in m["Subject"]]
    assert sorted(m["To"] for m in messages) == sorted(r.email for r in readers)
    for message in messages:
        reader = next(r for r in readers if r.email == message["To"])
        delivery = deliveries[reader.pk, "incident_resolved"]
        assert message["Subject"] == "[Jelou] Resolved: Authentication Service Degradation"
        assert email.utils.parseaddr(message["From"])[0] == "Jelou"
        assert message["Reply-To"] == "soporte@jelou.example"
        assert message["Message-ID"] == delivery.message_id
        assert message["List-Unsubscribe"].strip() == f"<{reader.unsubscribe_url}>"  # may be folded
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
        assert reader.manage_url in text and reader.manage_url in html

    for hook in hooks:
        requests = real.receiver.to(hook.endpoint.removeprefix(real.receiver.url("")))
        assert len(requests) == 2
        for headers, body in requests:
            payload = Webhook(hook.secret).verify(body, headers)
            delivery = deliveries[hook.pk, payload["meta"]["event"]]
            assert headers["webhook-id"] == delivery.webhook_id
            assert payload["incident"]["id"] == incident.code


def test_a_worker_killed_in_the_middle_of_a_fan_out_loses_and_repeats_nothing(page, real):
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [Subscriber(page=page, channel="email", email=f"reader{n}@example.com",
                    state="confirmed", confirmed_at=now) for n in range(250)]
        + [Subscriber(page=page, channel="webhook", email="ops@example.com",
                      endpoint=real.receiver.url(f"/hook/{n}"), state="confirmed",
                      confirmed_at=now) for n in range(250)]
    )  # fmt: skip
    first = real.worker(NOTIFICATIONS_FAN_OUT_CHUNK=10, NOTIFICATIONS_EMAIL_BATCH=5)

    with real.broker():
        Incident.declare(page, name="Outage")
    event = NotificationEvent.objects.get()
    wait_for(lambda: Delivery.objects.count() >= 30, interval=0.002, message="the fan-out")
    first.kill()

    event.refresh_from_db()
    assert event.fanned_out_at is None, "the worker was killed after the fan-out, not during it"
    made_before = Delivery.objects.count()
    assert 30 <= made_before < 500
    # Later, the dead worker's leases (of its fan-out and its deliveries) have expired: the
    # sweeper hands them, and whatever messages went with the worker, to a new one.
    assert real.sweep(later=timedelta(minutes=20))["events"] == 1
    real.worker()

    wait_for(sent(500), timeout=60, message="all 500 deliveries")
    assert Delivery.objects.count() == 500
    message_ids = [m["Message-ID"] for m in real.sink.parsed()]
    expected = {d.message_id for d in Delivery.objects.filter(channel="email")}
    assert set(message_ids) == expected
    webhook_ids = [headers["webhook-id"] for _, headers, _ in real.receiver.requests]
    assert set(webhook_ids) == {d.webhook_id for d in Delivery.objects.filter(channel="webhook")}
    # At most the one message each of the two pool processes had on the wire when killed
    # can arrive twice (sent, not yet recorded); receivers drop it by its id.
    repeats = (len(message_ids) - len(set(message_ids))) + (
        len(webhook_ids) - len(set(webhook_ids))
    )
    assert repeats <= 2


def test_a_worker_killed_mid_batch_of_webhooks_leaves_the_unsent_to_the_sweeper(page, real):
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [Subscriber(page=page, channel="webhook", email="ops@example.com",
                    endpoint=real.receiver.url(f"/slow/{n}"), state="confirmed",
                    confirmed_at=now) for n in range(40)]
    )  # fmt: skip
    real.receiver.delay = 0.25  # 4 threads: about 16 a second
    first = real.worker(NOTIFICATIONS_WEBHOOK_BATCH=40, NOTIFICATIONS_WEBHOOK_THREADS=4)

    with real.broker():
        Incident.declare(page, name="Outage")
    wait_for(sent(8), interval=0.005, message="8 webhooks of the batch")
    first.kill()

    recorded = set(Delivery.objects.filter(status="sent").values_list("uuid", flat=True))
    held = Delivery.objects.filter(status="sending")
    assert 8 <= len(recorded) < 40 and held.count() == 40 - len(recorded)
    assert page.tenant.sent_today() == 40
    real.receiver.delay = 0
    # The dead worker's lease runs out: the sweeper hands its rows, and only them, on.
    assert real.sweep(later=timedelta(minutes=5))["deliveries"] == 40 - len(recorded)
    real.worker()

    wait_for(sent(40), timeout=60, message="all 40 webhooks")
    webhook_ids = [headers["webhook-id"] for _, headers, _ in real.receiver.requests]
    deliveries = Delivery.objects.all()
    assert set(webhook_ids) == {d.webhook_id for d in deliveries}
    # What was recorded sent before the kill is never sent again; what was in flight (at most
    # one request per thread, and as many answered but not yet written) may be, once.
    for delivery in deliveries:
        if delivery.uuid in recorded:
            assert webhook_ids.count(delivery.webhook_id) == 1
    assert len(webhook_ids) - len(set(webhook_ids)) <= 8
    # Each message counted once against the quota, its second attempt not.
    assert page.tenant.sent_today() == 40


@contextmanager
def own_redis():
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


def test_an_update_posted_while_redis_is_down_is_delivered_after_it_is_back(page, real):
    readers = [make_subscriber(page, f"reader{n}@example.com") for n in range(3)]
    hook = make_subscriber(page, real.receiver.url("/hook"))
    with own_redis() as server:
        real.worker(redis_url=server.url)
        server.stop()

        with real.broker(server.url):
            started = timezone.now()
            Incident.declare(page, name="Outage while Redis is down")
            posting = timezone.now() - started

        assert posting < timedelta(seconds=10)
        assert NotificationEvent.objects.get().fanned_out_at is None
        server.start()
        real.sweep(later=timedelta(minutes=2), url=server.url)

        wait_for(sent(4), timeout=45, message="the deliveries after Redis came back")
    assert sorted(m["To"] for m in real.sink.parsed()) == sorted(r.email for r in readers)
    [(headers, body)] = real.receiver.to("/hook")
    Webhook(hook.secret).verify(body, headers)


def test_failing_endpoints_are_retried_with_the_same_id_disabled_or_not_followed(page, real):
    flaky = make_subscriber(page, real.receiver.url("/flaky"))
    gone = make_subscriber(page, real.receiver.url("/gone"))
    moved = make_subscriber(page, real.receiver.url("/moved"))
    real.receiver.script("/flaky", [500, 500, 200])
    real.receiver.script("/gone", [410])
    real.receiver.script("/moved", [(301, {"Location": real.receiver.url("/private")})])
    real.worker()

    with real.broker():
        Incident.declare(page, name="Outage")

    wait_for(attempted(flaky, 1), message="the first attempt")
    for attempt in (2, 3):
        # The retry is due (instead of waiting 1 and then 5 minutes): the sweeper sends it.
        Delivery.objects.filter(subscriber=flaky).update(next_attempt_at=timezone.now())
        real.sweep()
        wait_for(attempted(flaky, attempt), message=f"attempt {attempt}")

    delivery = Delivery.objects.get(subscriber=flaky)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 3, 200)
    requests = real.receiver.to("/flaky")
    assert [headers["webhook-id"] for headers, _ in requests] == [delivery.webhook_id] * 3
    for headers, body in requests:
        Webhook(flaky.secret).verify(body, headers)

    gone_delivery = wait_for(attempted(gone, 1))
    assert (gone_delivery.status, gone_delivery.response_code) == ("dead", 410)
    assert Subscriber.objects.get(pk=gone.pk).state == "disabled"

    moved_delivery = wait_for(attempted(moved, 1))
    assert (moved_delivery.status, moved_delivery.response_code) == ("failed", 301)
    assert real.receiver.to("/private") == []
