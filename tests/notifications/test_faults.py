"""Faults with the production processes running (a prefork Celery worker, Celery beat,
PostgreSQL, a Redis of the test's own, an SMTP sink), with the default leases and timings,
measured with the wall clock: nothing lost, nothing twice, delivered within two minutes."""

import pytest
from django.db import connection

from config.cache import Outage
from notifications import outbox
from notifications.models import Delivery, NotificationEvent
from status import pagecache
from tests.notifications import faults
from tests.notifications.servers import RedisServer, database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def stack(settings):
    redis = RedisServer().start()
    sink = faults.SlowSink(delay=0.002).start()
    parts = faults.Stack(database_url(connection.settings_dict), sink, redis, env={})
    # This process reads and writes through the same Redis as its cache, as a web node does.
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    settings.PAGE_CACHE_LOCAL_SECONDS = 1
    yield parts
    parts.close()
    sink.stop()
    redis.close()
    Outage.down_until = outbox.Broker.down_until = 0.0
    outbox.Broker.was_down = False
    pagecache.clear_local()


def test_an_update_posted_while_redis_is_down_commits_shows_and_is_delivered(stack, page, api):
    posted, post_seconds, shown, page_seconds, load, recovery = faults.post_while_redis_is_down(
        stack, page, api, subscribers=200
    )

    assert posted.status_code == 201, posted.content
    assert post_seconds < faults.POST_SECONDS
    assert shown.status_code == 200 and page_seconds < faults.POST_SECONDS
    assert "Posted while Redis is down" in shown.content.decode()
    assert load == {200: 400}, "no error under load while Redis is down"
    assert NotificationEvent.objects.get().fanned_out_at is not None
    assert recovery < faults.RECOVERY_SECONDS
    assert faults.repeats(stack.sink) == 0


def test_redis_lost_during_a_fan_out_costs_time_not_notifications(stack, page):
    stack.sink.delay = 0.005
    recovery = faults.redis_lost_during_fan_out(stack, page, subscribers=2_000)

    assert recovery < faults.RECOVERY_SECONDS
    assert stack.sink.count() == 2_000
    assert faults.repeats(stack.sink) == 0
    assert Delivery.objects.filter(status="sent").count() == 2_000


def test_a_worker_killed_mid_batch_hands_its_deliveries_on(stack, page):
    stack.sink.delay = 0.02
    recovery, held = faults.worker_killed_mid_batch(stack, page, subscribers=600)

    assert held > 0, "the worker died holding deliveries"
    assert recovery < faults.RECOVERY_SECONDS
    assert len(set(stack.sink.message_ids())) == 600
    # At most the message each pool process had on the wire goes twice.
    assert faults.repeats(stack.sink) <= 2
