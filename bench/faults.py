"""What a Redis or worker failure costs, measured with the production processes on this machine:

    .venv/bin/python -m bench.faults

A throwaway PostgreSQL, a Redis of our own that is stopped and restarted empty, a Celery worker
(prefork, 2 processes), Celery beat and an SMTP sink, with the settings' default leases and
sweeps. The scenarios are the fault tests' (tests/notifications/faults.py):

1. Redis down: an incident posted through the management API (201) and the status page read
   (200) while Redis, the cache and the broker, is stopped. Targets: each under 1 s. The page
   read 400 times from 4 threads at once: errors (target 0). Then Redis comes back empty:
   seconds until the last of 200 emails is delivered.
2. Redis lost during a fan-out to 2,000 subscribers, restarted empty: seconds from the restart
   to the last delivery. Target: at most 120 s; none twice.
3. A worker killed with kill -9 in the middle of its batches: seconds from the kill to the last
   of 600 deliveries. Target: at most 120 s.

Exits 1 when a scenario did not deliver everything, not when a target is missed.
"""

import sys

from bench.common import django_on_services, logger

TARGETS = {"post": 1.0, "page": 1.0, "errors": 0, "recovery": 120.0}


log = logger("bench")


def main():
    from tests.notifications.servers import RedisServer

    redis = RedisServer().start()
    # Redis is this script's own (it stops and starts it), not django_on_services'.
    with django_on_services(
        with_redis=False,
        REDIS_URL=redis.url,
        # The status page is read through Django's test client: DEBUG serves its static
        # files' names without a collected manifest.
        DEBUG="true",
        ALLOWED_HOSTS="testserver",
        SITE_URL="https://status.example.com",
        LOG_LEVEL="ERROR",
    ) as services:
        if services is None:
            redis.close()
            return 1
        database_url, _redis_url = services
        try:
            return run(database_url, redis)
        finally:
            redis.close()


def run(database_url, redis):
    import redis as redis_client

    from status.models import Component, ComponentGroup, Page, Tenant
    from tests.notifications import faults

    def stack(delay):
        sink = faults.SlowSink(delay=delay).start()
        if redis.process is None:
            redis.start()
        redis_client.Redis.from_url(redis.url).flushall()
        return faults.Stack(database_url, sink, redis, env={"LOG_LEVEL": "ERROR"})

    def page(slug):
        # A customer the platform knows, sending more than a new one may in a day.
        tenant = Tenant.objects.create(name=slug.title(), slug=slug, trusted=True)
        made = Page.objects.create(tenant=tenant, name=slug.title(), slug=slug, visibility="public")
        group = ComponentGroup.objects.create(page=made, name="Core")
        return made, Component.objects.create(page=made, group=group, name="API")

    rows, failed = [], False
    scenarios = [
        ("Redis down while posting", 0.002, lambda s: outage(s, *page("outage"))),
        ("Redis lost during a fan-out of 2,000", 0.005,
         lambda s: [("recovery", faults.redis_lost_during_fan_out(s, page("lost")[0], 2_000))]),
        ("worker killed mid-batch (600)", 0.02,
         lambda s: [("recovery", faults.worker_killed_mid_batch(s, page("killed")[0], 600)[0])]),
    ]  # fmt: skip

    def outage(s, made, component):
        posted, post, shown, page_seconds, load, recovery = faults.post_while_redis_is_down(
            s, made, component, 200
        )
        assert posted.status_code == 201 and shown.status_code == 200
        errors = sum(count for status, count in load.items() if status != 200)
        log(f"status page under load with Redis down: {load} ({errors} errors)")
        return [("post", post), ("page", page_seconds), ("errors", errors), ("recovery", recovery)]

    for name, delay, scenario in scenarios:
        log(f"{name}…")
        parts = stack(delay)
        try:
            for what, seconds in scenario(parts):
                rows.append((name, what, seconds, faults.repeats(parts.sink)))
        except AssertionError as error:
            log(f"{name}: {error}")
            failed = True
        finally:
            parts.close()
            parts.sink.stop()
    print("\nFaults (wall clock, default leases and sweeps)")
    print(f"{'scenario':40} {'measure':9} {'value':>8} {'target':>7} {'repeats':>8}")
    for name, what, value, repeated in rows:
        target = TARGETS[what]
        mark = "ok" if value <= target else "MISSED"
        print(f"{name:40} {what:9} {value:8.2f} {target:7.0f} {repeated:8} {mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
