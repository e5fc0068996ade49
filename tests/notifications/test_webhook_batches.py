"""Webhooks in batches: one task claims many deliveries, sends them from a pool of threads to a
real HTTP receiver and records each by its own outcome; the sending quota counts each once,
and what a batch hands back unsent is not counted."""

import time

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from notifications import tasks
from notifications.models import Delivery
from status.models import sending_day
from tests.factories import make_delivery, make_event, make_subscriber
from tests.notifications.servers import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def local_hooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def hooks(page, receiver, names):
    return [make_subscriber(page, receiver.url(f"/{name}")) for name in names]


def sent_today(tenant):
    return tenant.sent_today(timezone.now())


def test_a_batch_records_each_webhook_by_its_own_outcome(page, receiver):
    ok, failing, gone, other = hooks(page, receiver, ["ok", "failing", "gone", "other"])
    receiver.script("/failing", [(500, {}, b"database on fire")])
    receiver.script("/gone", [410])
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in (ok, failing, gone, other)]

    assert tasks.deliver([d.pk for d in deliveries]) == 2

    for delivery in deliveries:
        delivery.refresh_from_db()
    by_endpoint = {d.subscriber.endpoint.rsplit("/", 1)[1]: d for d in deliveries}
    assert {name: (d.status, d.response_code) for name, d in by_endpoint.items()} == {
        "ok": ("sent", 200),
        "failing": ("failed", 500),
        "gone": ("dead", 410),
        "other": ("sent", 200),
    }
    assert by_endpoint["failing"].next_attempt_at > timezone.now()
    assert "database on fire" in by_endpoint["failing"].last_error
    assert all(d.claim is None and d.lease_until is None for d in deliveries)
    failing.refresh_from_db()
    gone.refresh_from_db()
    assert (failing.consecutive_failures, failing.state) == (1, "confirmed")
    assert gone.state == "disabled"
    # One request each, each signed with its own subscriber's secret and its delivery's id.
    for subscriber in (ok, failing, gone, other):
        ((headers, body),) = receiver.to(f"/{subscriber.endpoint.rsplit('/', 1)[1]}")
        payload = Webhook(subscriber.secret).verify(body, headers)
        delivery = next(d for d in deliveries if d.subscriber_id == subscriber.pk)
        assert headers["webhook-id"] == delivery.webhook_id == payload["meta"]["delivery_id"]
        assert payload["meta"]["unsubscribe"] == subscriber.unsubscribe_url
    assert sent_today(page.tenant) == 4  # four messages attempted, each counted once


def test_a_batch_is_sent_concurrently_with_pooled_connections(page, receiver, settings):
    settings.NOTIFICATIONS_WEBHOOK_THREADS = 8
    receiver.delay = 0.4
    subscribers = hooks(page, receiver, [f"slow/{n}" for n in range(8)])
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in subscribers]

    started = time.monotonic()
    assert tasks.deliver([d.pk for d in deliveries]) == 8
    elapsed = time.monotonic() - started

    # One after the other, they would take 8 × 0.4 = 3.2 s.
    assert elapsed < 1.6, f"8 slow webhooks took {elapsed:.2f} s"
    assert Delivery.objects.filter(status="sent").count() == 8


def test_a_skipped_subscriber_in_a_batch_gets_no_request(page, receiver):
    wanted, left = hooks(page, receiver, ["wanted", "left"])
    event = make_event(page)
    deliveries = [make_delivery(event, wanted), make_delivery(event, left)]
    left.unsubscribe()

    assert tasks.deliver([d.pk for d in deliveries]) == 1

    assert [p for p, *_ in receiver.requests] == ["/wanted"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent", "skipped"}


def test_the_quota_counts_a_batch_once_and_holds_the_rest(page, receiver):
    page.tenant.daily_send_quota = 3
    page.tenant.save()
    subscribers = hooks(page, receiver, [f"hook/{n}" for n in range(5)])
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in subscribers]

    assert tasks.deliver([d.pk for d in deliveries]) == 3
    # The same message again (a duplicate task message) changes nothing.
    assert tasks.deliver([d.pk for d in deliveries]) == 0

    assert receiver.count() == 3
    assert sent_today(page.tenant) == 3
    held = Delivery.objects.filter(status="pending")
    assert held.count() == 2
    assert all(d.attempts == 0 and "daily sending quota" in d.last_error for d in held)


def test_what_a_claim_hands_back_is_not_counted_against_the_quota(page, receiver):
    subscribers = hooks(page, receiver, [f"hook/{n}" for n in range(3)])
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in subscribers]
    ids = [d.pk for d in deliveries]

    claim, claimed = Delivery.objects.claim(ids)
    assert len(claimed) == 3 and sent_today(page.tenant) == 3
    # The worker stops before sending them (a time limit): they are pending again, uncounted.
    assert sorted(Delivery.objects.release(claim)) == sorted((pk, "webhook") for pk in ids)
    assert sent_today(page.tenant) == 0
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 0)}

    assert tasks.deliver(ids) == 3
    assert sent_today(page.tenant) == 3
    assert receiver.count() == 3
    assert sending_day(timezone.now()) == page.tenant.sending_days.get().day


def test_a_batch_out_of_time_hands_back_what_it_did_not_start(page, receiver, settings,
                                                                monkeypatch):  # fmt: skip
    settings.NOTIFICATIONS_WEBHOOK_THREADS = 1
    receiver.delay = 1.5
    subscribers = hooks(page, receiver, [f"hook/{n}" for n in range(4)])
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in subscribers]
    # The task's time is nearly up: what has not started 1 s from now does not start (the
    # first request starts at once, the second after the first's 1.5 s).
    monkeypatch.setattr(tasks, "last_start", lambda: time.monotonic() + 1.0)

    assert tasks.deliver([d.pk for d in deliveries]) == 1

    assert receiver.count() == 1
    assert sorted(Delivery.objects.values_list("status", "attempts")) == [
        ("pending", 0), ("pending", 0), ("pending", 0), ("sent", 1)
    ]  # fmt: skip
    assert sent_today(page.tenant) == 1  # the three handed back are not counted

    monkeypatch.undo()
    receiver.delay = 0
    assert tasks.deliver([d.pk for d in deliveries]) == 3  # the next message sends them
    assert receiver.count() == 4 and sent_today(page.tenant) == 4
