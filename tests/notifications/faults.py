"""Fault scenarios with real parts, shared by tests/notifications/test_faults.py (which checks
them against their bounds) and bench/faults.py (which reports the figures).

Each runs the production processes as they run in production: a Celery worker (prefork) and
Celery beat (the sweeper every 30 s) against PostgreSQL and a Redis of the scenario's own that
it stops, restarts empty or outlives, with the settings' defaults for leases and for when a
message counts as lost. Every figure is measured with the wall clock, nothing is time-travelled.
"""

import asyncio
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.test import Client

from incidents.models import Incident
from notifications.models import Channel, Delivery, Subscriber, SubscriberState
from status.models import ApiKey
from tests.notifications.servers import (
    BASE_DIR,
    RedisServer,
    SmtpSink,
    Worker,
    broker,
    wait_for,
)

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
# What the scenarios must stay within (the issue's bounds).
POST_SECONDS = 1.0
RECOVERY_SECONDS = 120.0


class SlowSink(SmtpSink):
    """An SMTP sink that takes `delay` seconds a message, so a batch is still going when a
    fault strikes."""

    def __init__(self, delay=0.0):
        super().__init__()
        self.delay = delay
        self.unique_ids = set()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        found = MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.unique_ids.add(found.group(1) if found else None)
        return await super().handle_DATA(server, session, envelope)

    def unique(self):
        """How many different messages arrived (a message sent twice counts once)."""
        with self.lock:
            return len(self.unique_ids)

    def message_ids(self):
        return [message["Message-ID"] for message in self.parsed()]


class Beat(Worker):
    """`celery -A config beat`, with the worker's environment."""

    def start(self, timeout=30):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by stop())
            prefix="celery-beat-", suffix=".log", delete=False
        )
        schedule = Path(tempfile.mkdtemp(prefix="celery-beat-")) / "schedule"
        celery = Path(sys.executable).with_name("celery")
        self.process = subprocess.Popen(
            [celery, "-A", "config", "beat", "-l", "info", "-s", str(schedule)],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout=timeout, message="Celery beat to start")
        return self

    def ready(self):
        if self.process.poll() is not None:
            raise AssertionError(f"beat exited:\n{self.output()[-3000:]}")
        return "Scheduler: Sending due task" in self.output() or "beat: Starting" in self.output()


@dataclass
class Stack:
    """A worker and beat on a Redis of their own, sending to an SMTP sink."""

    database_url: str
    sink: SlowSink
    redis: RedisServer
    env: dict

    def __post_init__(self):
        self.processes = []

    def worker(self):
        worker = Worker(
            database_url=self.database_url,
            redis_url=self.redis.url,
            smtp_url=self.sink.url,
            env=self.env,
        ).start()
        self.processes.append(worker)
        return worker

    def beat(self):
        beat = Beat(
            database_url=self.database_url,
            redis_url=self.redis.url,
            smtp_url=self.sink.url,
            env=self.env,
        ).start()
        self.processes.append(beat)
        return beat

    def close(self):
        for process in self.processes:
            process.kill()
            process.stop()


def subscribe(page, count):
    """`count` confirmed email subscribers of `page`."""
    Subscriber.objects.bulk_create(
        Subscriber(
            page=page,
            channel=Channel.EMAIL,
            email=f"reader{n}@example.com",
            state=SubscriberState.CONFIRMED,
        )
        for n in range(count)
    )


def delivered(sink, count):
    return lambda: sink.unique() >= count


def post_while_redis_is_down(stack, page, component, subscribers):
    """Redis (the cache and the broker) is stopped; an incident is declared through the API and
    the public page is read, once and then 400 times from 4 threads at once. Then Redis comes
    back empty. Returns (post status, post seconds, page status, page seconds, the answers
    under load {status: count}, seconds from Redis's return to the last delivery)."""
    subscribe(page, subscribers)
    _key, secret = ApiKey.issue(page.tenant, "Fault scenario")
    stack.worker()
    stack.beat()
    stack.redis.stop()
    api = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
    body = {"incident": {"name": "Posted while Redis is down",
                         "components": {component.code: "major_outage"}}}  # fmt: skip
    with broker(stack.redis.url):
        started = time.monotonic()
        posted = api.post(
            f"/api/v1/pages/{page.code}/incidents",
            data=json.dumps(body),
            content_type="application/json",
        )
        post_seconds = time.monotonic() - started
        started = time.monotonic()
        shown = Client().get(f"/p/{page.slug}/")
        page_seconds = time.monotonic() - started
        load = read_under_load(f"/p/{page.slug}/", requests=400)
    stack.redis.start()
    back = time.monotonic()
    wait_for(delivered(stack.sink, subscribers), timeout=RECOVERY_SECONDS + 60,
             message="every email after Redis came back")  # fmt: skip
    return posted, post_seconds, shown, page_seconds, load, time.monotonic() - back


def read_under_load(path, requests, threads=4):
    """GET `path` `requests` times from `threads` threads at once: {status code: count}."""
    answers = {}
    lock = threading.Lock()
    per_thread = requests // threads

    def read():
        client = Client()
        try:
            for _ in range(per_thread):
                status = client.get(path).status_code
                with lock:
                    answers[status] = answers.get(status, 0) + 1
        finally:
            connection.close()

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def redis_lost_during_fan_out(stack, page, subscribers):
    """An incident to `subscribers` email subscribers; once some are sent, Redis is killed
    (its queued messages lost) and restarted empty. Returns seconds from the restart to the
    last delivery."""
    subscribe(page, subscribers)
    stack.worker()
    stack.beat()
    with broker(stack.redis.url):
        Incident.declare(page, name="Redis lost during the fan-out")
    wait_for(delivered(stack.sink, subscribers // 10), timeout=60, message="the first emails")
    stack.redis.stop()
    time.sleep(1)
    stack.redis.start()
    back = time.monotonic()
    wait_for(delivered(stack.sink, subscribers), timeout=RECOVERY_SECONDS + 60,
             message="every email after Redis came back empty")  # fmt: skip
    return time.monotonic() - back


def worker_killed_mid_batch(stack, page, subscribers):
    """An incident to `subscribers` email subscribers; in the middle of the first batches the
    worker is killed with kill -9 and a new one started. Returns (seconds from the kill to the
    last delivery, how many deliveries were held by the dead worker)."""
    subscribe(page, subscribers)
    worker = stack.worker()
    stack.beat()
    with broker(stack.redis.url):
        Incident.declare(page, name="A worker dies mid-batch")
    wait_for(delivered(stack.sink, 20), timeout=60, message="the first emails")
    worker.kill()
    killed = time.monotonic()
    held = Delivery.objects.filter(status="sending").count()
    stack.worker()
    wait_for(delivered(stack.sink, subscribers), timeout=RECOVERY_SECONDS + 60,
             message="every email after the worker died")  # fmt: skip
    return time.monotonic() - killed, held


def repeats(sink):
    """How many messages arrived more than once (by Message-ID)."""
    ids = sink.message_ids()
    return len(ids) - len(set(ids))
