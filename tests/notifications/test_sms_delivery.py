"""SMS deliveries end to end with real parts: PostgreSQL, Redis, a Celery worker process and a
local fake of Twilio's Messages API. One incident update reaches an SMS subscriber exactly once,
in one short message; a Twilio server error is retried, then sent."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from notifications.models import Delivery, Subscriber
from status.models import Component
from tests.notifications.real import REAL_PARTS, attempted
from tests.notifications.servers import FakeTwilio, wait_for

pytestmark = REAL_PARTS

NUMBER = "+593991234567"


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

    first = wait_for(attempted(subscriber, 1), timeout=60, message="the first attempt")
    assert (first.status, first.response_code) == ("failed", 500)
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    real.sweep()
    second = wait_for(attempted(subscriber, 2), timeout=60, message="the retry")
    assert (second.status, second.response_code) == ("sent", 201)
    assert [m["_status"] for m in real.twilio.to(NUMBER)] == [500, 201]
