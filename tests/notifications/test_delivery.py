"""Claiming, outcomes, retries with backoff, quarantine, the sweeper and resending."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from incidents.models import Incident
from notifications import outbox, tasks
from notifications.models import (
    MAX_ATTEMPTS,
    Delivery,
    EventKind,
    NotificationEvent,
    Subscriber,
    lease_duration,
)
from notifications.transports import TransportError
from tests.factories import make_delivery, make_event, make_subscriber
from tests.notifications.servers import broker
from tests.services import free_port

MINUTE = timedelta(minutes=1)


class FakeTransport:
    """Answers each notify() with the next of `outcomes`: None (sent) or a TransportError."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = []

    def notify(self, delivery):
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(delivery)
        return 200


@pytest.fixture
def event(page):
    return make_event(page)


def delivery_to(event, address, **fields):
    return make_delivery(event, make_subscriber(event.page, address), **fields)


def claim_one(delivery, now=None):
    _claim, claimed = Delivery.objects.claim([delivery.pk], now=now)
    return claimed[0] if claimed else None


def test_a_delivery_is_claimed_by_one_worker_only(event):
    delivery = delivery_to(event, "ana@example.com")

    first = claim_one(delivery)
    second = claim_one(delivery)

    assert first is not None and second is None
    assert first.status == "sending" and first.attempts == 1
    # Longer than one send may take (30 s timeouts), short enough to recover a dead worker's.
    assert timezone.now() + timedelta(seconds=45) < first.lease_until
    assert first.lease_until <= timezone.now() + timedelta(seconds=60)


def test_a_working_worker_renews_its_lease_and_only_its_own(event, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    mine = claim_one(delivery_to(event, "ana@example.com"))
    theirs = claim_one(delivery_to(event, "bob@example.com"))
    time_machine.shift(timedelta(seconds=50))

    assert Delivery.objects.renew(mine.claim) == 1

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.lease_until == timezone.now() + timedelta(seconds=60)
    assert theirs.lease_until == timezone.now() + timedelta(seconds=10)
    # Past the old lease the sweeper leaves the renewed row alone and takes the other back.
    time_machine.shift(timedelta(seconds=11))
    assert [pk for pk, _channel in Delivery.objects.sweep()] == [theirs.pk]


def test_a_delivery_waiting_for_its_retry_is_not_claimed_early(event):
    delivery = delivery_to(event, "ana@example.com", next_attempt_at=timezone.now() + MINUTE)

    assert claim_one(delivery) is None


def test_a_sent_delivery_records_when_and_the_answer(event):
    delivery = claim_one(delivery_to(event, "https://hooks.example.com/a"))

    assert delivery.attempt(FakeTransport()) == "sent"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.claim) == ("sent", 200, None)
    assert delivery.sent_at is not None


def test_failures_are_retried_after_1_5_and_30_minutes_and_so_on_then_given_up(event):
    delivery = delivery_to(event, "https://hooks.example.com/a")
    expected = [1, 5, 30, 120, 360, 720, 1440]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for attempt, minutes in enumerate(expected, start=1):
            claimed = claim_one(delivery)
            assert claimed.attempt(FakeTransport(TransportError("500 boom"))) == "failed"
            claimed.refresh_from_db()
            assert claimed.attempts == attempt
            wait = (claimed.next_attempt_at - timezone.now()) / MINUTE
            assert minutes * 0.9 <= wait <= minutes * 1.1
            clock.move_to(claimed.next_attempt_at)
            Delivery.objects.filter(pk=delivery.pk).update(status="pending")  # the sweeper
        last = claim_one(delivery)
        assert last.attempts == MAX_ATTEMPTS
        assert last.attempt(FakeTransport(TransportError("500 boom"))) == "dead"

    last.refresh_from_db()
    assert (last.status, last.last_error) == ("dead", "500 boom")


def test_a_permanent_failure_is_not_retried(event):
    delivery = claim_one(delivery_to(event, "ana@example.com"))

    delivery.attempt(FakeTransport(TransportError("550 no such user", permanent=True)))

    assert Delivery.objects.get().status == "dead"


def test_410_gone_disables_the_subscriber(event):
    delivery = claim_one(delivery_to(event, "https://hooks.example.com/a"))

    delivery.attempt(FakeTransport(TransportError("410 Gone", response_code=410, gone=True)))

    assert Delivery.objects.get().status == "dead"
    assert Subscriber.objects.get().state == "disabled"


def test_429_waits_as_long_as_the_receiver_asks_and_is_no_failure_of_the_endpoint(event):
    delivery = claim_one(delivery_to(event, "https://hooks.example.com/a"))
    error = TransportError("429", response_code=429, retry_after=timedelta(seconds=900))

    delivery.attempt(FakeTransport(error))

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert abs((delivery.next_attempt_at - timezone.now()) - timedelta(seconds=900)) < MINUTE
    assert Subscriber.objects.get().consecutive_failures == 0


def failing_deliveries(event, target, count):
    incident = event.incident
    deliveries = []
    for _ in range(count):
        other = make_event(event.page, incident, EventKind.INCIDENT_UPDATED)
        deliveries.append(make_delivery(other, target))
    return deliveries


def test_ten_failures_in_a_row_within_an_hour_quarantine_a_webhook_and_tell_its_contact(
    event, django_capture_on_commit_callbacks
):
    target = make_subscriber(event.page, "https://hooks.example.com/a", email="ops@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        for delivery in failing_deliveries(event, target, 10):
            claim_one(delivery).attempt(FakeTransport(TransportError("503")))

    target.refresh_from_db()
    assert target.state == "quarantined"
    assert target.quarantined_at is not None
    [notice] = mail.outbox
    assert notice.to == ["ops@example.com"]
    assert notice.subject == "[Alpha] Webhook deliveries paused"
    assert "https://hooks.example.com/a" in notice.body


def test_failures_spread_over_more_than_an_hour_or_broken_by_a_success_do_not_quarantine(event):
    target = make_subscriber(event.page, "https://hooks.example.com/a")
    deliveries = failing_deliveries(event, target, 20)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for n, delivery in enumerate(deliveries[:12]):
            clock.move_to(start + n * timedelta(minutes=7))
            claim_one(delivery).attempt(FakeTransport(TransportError("503")))
        target.refresh_from_db()
        assert target.state == "confirmed"

        for delivery in deliveries[12:17]:
            claim_one(delivery).attempt(FakeTransport(TransportError("503")))
        claim_one(deliveries[17]).attempt(FakeTransport())
    target.refresh_from_db()
    assert (target.state, target.consecutive_failures) == ("confirmed", 0)


def test_staff_reactivate_a_quarantined_webhook(event):
    target = make_subscriber(event.page, "https://hooks.example.com/a")
    for delivery in failing_deliveries(event, target, 10):
        claim_one(delivery).attempt(FakeTransport(TransportError("503")))
    quarantined = Subscriber.objects.get(pk=target.pk)
    assert (quarantined.state, quarantined.consecutive_failures) == ("quarantined", 10)
    assert quarantined.quarantined_at is not None and quarantined.first_failure_at is not None

    quarantined.reactivate()

    target.refresh_from_db()
    assert (target.state, target.consecutive_failures) == ("confirmed", 0)
    assert (target.quarantined_at, target.first_failure_at) == (None, None)
    assert target.wants()
    # Its count starts again: one more failure is the first of a new run, not the eleventh.
    [again] = failing_deliveries(event, target, 1)
    assert claim_one(again).attempt(FakeTransport(TransportError("503"))) == "failed"
    target.refresh_from_db()
    assert (target.state, target.consecutive_failures) == ("confirmed", 1)


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(lambda d: d.record_sent(250), id="record_sent"),
        pytest.param(lambda d: d.write_sent(250), id="write_sent"),
        pytest.param(lambda d: d.attempt(FakeTransport()), id="attempt-sent"),
        pytest.param(lambda d: d.record_failure(TransportError("451 later")), id="record_failure"),
        pytest.param(
            lambda d: d.record_failure(TransportError("550 no", permanent=True)), id="dead"
        ),
        pytest.param(lambda d: d.finish("skipped", error="gone"), id="finish"),
    ],
)
def test_a_worker_that_lost_its_claim_does_not_overwrite_the_next_workers(
    event, time_machine, outcome
):
    time_machine.move_to(timezone.now(), tick=False)
    delivery = delivery_to(event, "ana@example.com")
    first = claim_one(delivery)
    # The first worker stalls past its lease; the sweeper takes the row back for another.
    time_machine.shift(lease_duration() + timedelta(seconds=1))
    assert [pk for pk, _channel in Delivery.objects.sweep()] == [delivery.pk]
    second = claim_one(delivery)
    assert second.claim != first.claim
    held = Delivery.objects.filter(pk=delivery.pk).values().get()
    assert (held["status"], held["claim"], held["attempts"]) == ("sending", second.claim, 2)

    outcome(first)  # the first worker wakes up and records what it did

    assert Delivery.objects.filter(pk=delivery.pk).values().get() == held
    # Still the second worker's to finish.
    assert second.attempt(FakeTransport()) == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.claim, delivery.attempts) == ("sent", None, 2)


def test_a_subscriber_who_left_after_the_fan_out_is_skipped(event):
    delivery = claim_one(delivery_to(event, "ana@example.com"))
    delivery.subscriber.unsubscribe()
    transport = FakeTransport()

    assert delivery.attempt(transport) == "skipped"
    assert transport.sent == []


def test_what_a_worker_still_holds_when_it_stops_goes_back_to_pending(event, monkeypatch):
    ana = delivery_to(event, "ana@example.com")
    bob = delivery_to(event, "bob@example.com")

    def crash(delivery, transport, recorder=None):
        if delivery.pk == bob.pk:
            raise KeyboardInterrupt  # the worker is told to stop, mid-batch
        return delivery.attempt(transport, recorder)

    monkeypatch.setattr(tasks, "attempt", crash)
    with pytest.raises(KeyboardInterrupt):
        tasks.deliver([ana.pk, bob.pk])

    ana.refresh_from_db()
    bob.refresh_from_db()
    assert (ana.status, ana.attempts) == ("sent", 1)
    assert (bob.status, bob.attempts, bob.claim) == ("pending", 0, None)


def test_an_unexpected_error_in_one_message_fails_it_and_the_batch_goes_on(event, monkeypatch):
    ana = delivery_to(event, "ana@example.com")
    bob = delivery_to(event, "bob@example.com")
    real = Delivery.attempt

    def broken(self, transport, recorder=None):
        if self.pk == ana.pk:
            raise ValueError("a bug")
        return real(self, transport, recorder)

    monkeypatch.setattr(Delivery, "attempt", broken)
    assert tasks.deliver([ana.pk, bob.pk]) == 1

    ana.refresh_from_db()
    assert ana.status == "failed" and "a bug" in ana.last_error
    assert Delivery.objects.get(pk=bob.pk).status == "sent"


@pytest.fixture
def enqueued(monkeypatch):
    """What the sweeper enqueues, instead of running it."""
    calls = []
    monkeypatch.setattr(
        outbox, "enqueue", lambda task, *args: calls.append((getattr(task, "name", task), args))
    )
    return calls


def test_the_sweeper_takes_back_expired_leases_and_due_retries(event, enqueued):
    now = timezone.now()
    expired = delivery_to(event, "expired@example.com", status="sending",
                          lease_until=now - MINUTE, attempts=1)  # fmt: skip
    held = delivery_to(event, "held@example.com", status="sending", lease_until=now + MINUTE)
    due = delivery_to(event, "due@example.com", status="failed", next_attempt_at=now - MINUTE)
    later = delivery_to(event, "later@example.com", status="failed", next_attempt_at=now + MINUTE)
    fresh = delivery_to(event, "fresh@example.com", enqueued_at=now)
    lost = delivery_to(event, "lost@example.com", enqueued_at=now - timedelta(minutes=11))
    delivery_to(event, "sent@example.com", status="sent")

    assert tasks.sweep() == {"events": 0, "deliveries": 3}

    assert enqueued == [("notifications.tasks.deliver", (sorted([expired.pk, due.pk, lost.pk]),))]
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert [statuses[d.pk] for d in (expired, held, due, later, fresh, lost)] == [
        "pending", "sending", "pending", "failed", "pending", "pending",
    ]  # fmt: skip
    assert Delivery.objects.get(pk=expired.pk).attempts == 1


def test_the_sweeper_fans_out_events_whose_message_was_lost(event, enqueued):
    assert tasks.sweep()["events"] == 0  # a minute's grace for its own message

    with time_machine.travel(timezone.now() + 2 * MINUTE):
        assert tasks.sweep()["events"] == 1
    assert enqueued == [("notifications.tasks.fan_out", (event.pk,))]


def test_the_sweeper_gives_a_dead_workers_fan_out_to_another(event, enqueued):
    now = timezone.now()
    NotificationEvent.objects.filter(pk=event.pk).update(fan_out_lease_until=now + 5 * MINUTE)

    with time_machine.travel(now + 2 * MINUTE):
        assert tasks.sweep()["events"] == 0
    with time_machine.travel(now + 6 * MINUTE):
        assert tasks.sweep()["events"] == 1
    event.refresh_from_db()
    assert event.fan_out_lease_until is None
    assert event.claim_fan_out()


def test_emails_and_webhooks_are_enqueued_in_batches_of_their_own(settings, enqueued):
    settings.NOTIFICATIONS_EMAIL_BATCH = 2
    settings.NOTIFICATIONS_WEBHOOK_BATCH = 3
    rows = [(1, "email"), (2, "webhook"), (3, "email"), (4, "email"), (5, "webhook")]
    rows += [(6, "webhook"), (7, "webhook")]

    outbox.enqueue_deliveries(rows)

    assert [args for _name, args in enqueued] == [([1, 3],), ([4],), ([2, 5, 6],), ([7],)]


def test_staff_resend_a_delivery_with_its_same_message_id(
    event, django_capture_on_commit_callbacks
):
    delivery = delivery_to(event, "ana@example.com")
    tasks.deliver([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "sent"

    with django_capture_on_commit_callbacks(execute=True):
        delivery.resend()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]


@pytest.fixture
def broker_memory():
    """outbox.Broker remembers a failed send for the whole process: forgotten afterwards, so
    that no other test finds the broker "down"."""
    yield outbox.Broker
    outbox.Broker.down_until = 0
    outbox.Broker.was_down = False


def test_the_broker_being_down_loses_nothing_but_time(
    page, broker_memory, settings, caplog, django_capture_on_commit_callbacks
):
    make_subscriber(page, "ana@example.com")
    make_subscriber(page, "bob@example.com")
    # The sweeper runs in a worker, which has not seen the outage: in this one process the
    # pause after a failed send would keep it from sending too.
    settings.BROKER_RETRY_SECONDS = 0
    start = timezone.now()

    # Nothing listens on this port: sending refuses at once, as Redis being down does.
    with (
        broker(f"redis://127.0.0.1:{free_port()}/0"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        Incident.declare(page, name="Outage", body="Looking into it.")

    event = NotificationEvent.objects.get()
    assert event.fanned_out_at is None
    assert not Delivery.objects.exists()
    assert mail.outbox == []
    assert "broker unreachable" in caplog.text
    assert broker_memory.was_down

    with time_machine.travel(start + 2 * MINUTE):  # past the fan-out's grace; broker back up
        assert tasks.sweep()["events"] == 1

    event.refresh_from_db()
    assert event.fanned_out_at is not None
    assert sorted(Delivery.objects.values_list("subscriber__email", "status")) == [
        ("ana@example.com", "sent"),
        ("bob@example.com", "sent"),
    ]
    assert sorted(message.to[0] for message in mail.outbox) == [
        "ana@example.com",
        "bob@example.com",
    ]
