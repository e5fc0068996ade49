"""SMS deliveries end to end with real parts: PostgreSQL, Redis, a Celery worker process and a
local fake of Twilio's Messages API. One incident update reaches an SMS subscriber exactly once,
in one short message; a Twilio server error is retried, then sent."""

import itertools
import os
from datetime import timedelta

import pytest
import redis as redis_client
import time_machine
from django.db import connection
from django.utils import timezone

from incidents.models import Incident
from notifications import tasks
from notifications.models import Delivery, Subscriber
from status.models import Component
from tests.notifications.servers import (
    FakeTwilio,
    SmtpSink,
    Worker,
    broker,
    database_url,
    wait_for,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

# Redis databases of their own (test_chat_delivery.py counts from 9, test_real_delivery.py
# from 1; each flushes its own before use, and they never run at once).
redis_databases = itertools.count(13)

NUMBER = "+593991234567"


class Real:
    def __init__(self, sink, twilio):
        self.sink, self.twilio = sink, twilio
        base = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0]
        self.redis_url = f"{base}/{next(redis_databases) % 16}"
        redis_client.Redis.from_url(self.redis_url).flushdb()
        self.workers = []

    def worker(self):
        worker = Worker(
            database_url=database_url(connection.settings_dict),
            redis_url=self.redis_url,
            smtp_url=self.sink.url,
            env=self.twilio.settings(),
        )
        self.workers.append(worker)
        return worker.start()

    def broker(self):
        return broker(self.redis_url)

    def sweep(self, later=timedelta(0)):
        with self.broker(), time_machine.travel(timezone.now() + later):
            return tasks.sweep()

    def close(self):
        for worker in self.workers:
            worker.kill()
            worker.stop()


@pytest.fixture
def real(settings):
    sink, twilio = SmtpSink().start(), FakeTwilio().start()
    # This process (fan-out's filter of channels) sees the same platform as the worker.
    for name, value in twilio.settings().items():
        setattr(settings, name, value)
    parts = Real(sink, twilio)
    yield parts
    parts.close()
    sink.stop()
    twilio.stop()


def confirmed_sms(page, number=NUMBER):
    return Subscriber.objects.create(
        page=page, channel="sms", phone_number=number, state="confirmed",
        confirmed_at=timezone.now(),
    )  # fmt: skip


def test_one_update_reaches_an_sms_subscriber_exactly_once_in_one_short_message(page, real):
    components = {Component.objects.create(page=page, name=f"Region {n}"): "partial_outage"
                  for n in range(3)}  # fmt: skip
    subscriber = confirmed_sms(page)
    real.worker()
    incident = Incident.declare(page, name="Database failover", notify=False)

    with real.broker():
        incident.post_update("identified", "We found it. " * 200, component_statuses=components)

    wait_for(lambda: Delivery.objects.filter(status="sent").exists(), timeout=60,
             message="the SMS delivery")  # fmt: skip
    # A sweep after it finds nothing more to send.
    real.sweep(later=timedelta(minutes=5))
    wait_for(lambda: not Delivery.objects.filter(status__in=["pending", "sending"]).exists())
    (delivery,) = Delivery.objects.filter(subscriber=subscriber)
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("sent", 201, 1)
    (message,) = real.twilio.to(NUMBER)
    link = page.public_url(f"incidents/{incident.code}/")
    assert message["Body"] == f"Alpha: Identified (major) - Database failover {link}"
    assert len(message["Body"]) <= 160
    assert message["From"] == FakeTwilio.FROM
    assert message["StatusCallback"].endswith(
        f"/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"
    )


def test_a_twilio_server_error_is_retried_by_the_worker_then_sent(page, real):
    subscriber = confirmed_sms(page)
    real.twilio.script(NUMBER, [500])
    real.worker()

    with real.broker():
        Incident.declare(page, name="Outage")

    def finished(attempts):
        def check():
            delivery = Delivery.objects.filter(subscriber=subscriber).first()
            done = delivery and delivery.status not in ("pending", "sending")
            return done and delivery.attempts >= attempts and delivery

        return check

    first = wait_for(finished(1), timeout=60, message="the first attempt")
    assert (first.status, first.response_code) == ("failed", 500)
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    real.sweep()
    second = wait_for(finished(2), timeout=60, message="the retry")
    assert (second.status, second.response_code) == ("sent", 201)
    assert [m["_status"] for m in real.twilio.to(NUMBER)] == [500, 201]
