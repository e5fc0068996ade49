"""What the end-to-end delivery tests share (test_real_delivery.py, test_chat_delivery.py,
test_sms_delivery.py, test_every_channel.py): their markers, and `Real`, the real parts of one
test (a Redis database of its own, Celery workers, the SMTP sink, the HTTP receiver and the fake
Twilio). The `real` fixture in conftest.py makes one."""

import itertools
import os
from datetime import timedelta

import pytest
import redis as redis_client
import time_machine
from django.db import connection
from django.utils import timezone

from notifications import tasks
from notifications.models import Delivery
from tests.notifications.servers import Worker, broker, database_url

# A module of these tests sets `pytestmark = REAL_PARTS`.
REAL_PARTS = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

# Each test gets a Redis database of its own (1 to 12, flushed before use), so no worker sees
# another test's messages; 0 and 13 to 15 are left to the rest of the suite.
redis_databases = itertools.count()


class Real:
    """The real parts of one test: its Redis database, its workers, the sinks. Workers send
    email to `sink`, SMS to `twilio`, and may call `receiver` (private addresses allowed)."""

    def __init__(self, sink, receiver, twilio):
        self.sink, self.receiver, self.twilio = sink, receiver, twilio
        base = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0]
        self.redis_url = f"{base}/{1 + next(redis_databases) % 12}"
        redis_client.Redis.from_url(self.redis_url).flushdb()
        self.workers = []

    def worker(self, redis_url=None, **env):
        """A Celery worker (prefork, 2 processes) started on this test's Redis database (or
        `redis_url`), with `env` added to its environment."""
        worker = Worker(
            database_url=database_url(connection.settings_dict),
            redis_url=redis_url or self.redis_url,
            smtp_url=self.sink.url,
            env={**self.twilio.settings(), **{key: str(value) for key, value in env.items()}},
        )
        self.workers.append(worker)
        return worker.start()

    def broker(self, url=None):
        """This process publishes to the test's Redis (or `url`) within the block."""
        return broker(url or self.redis_url)

    def sweep(self, later=timedelta(0), url=None):
        """Run the sweeper here, `later` from now (leases and grace periods pass)."""
        with self.broker(url), time_machine.travel(timezone.now() + later):
            return tasks.sweep()

    def close(self):
        for worker in self.workers:
            worker.kill()
            worker.stop()


def sent(count):
    """A wait_for() predicate: at least `count` deliveries are sent."""
    return lambda: Delivery.objects.filter(status="sent").count() >= count


def attempted(subscriber, attempts):
    """A wait_for() predicate: the delivery to `subscriber` has finished at least `attempts`
    attempts (it is neither pending nor being sent): that delivery, fresh from the database."""

    def check():
        delivery = Delivery.objects.filter(subscriber=subscriber).first()
        done = delivery and delivery.status not in ("pending", "sending")
        return done and delivery.attempts >= attempts and delivery

    return check
