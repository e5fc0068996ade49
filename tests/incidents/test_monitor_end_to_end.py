"""Issue 14's end to end, with real parts: PostgreSQL, Redis, a Celery worker process running
the checks and the deliveries, a local HTTP service, an SMTP sink and a webhook receiver.

The service goes down → after 3 failed checks (and the monitor's 2-minute hold-down) the
component is in major outage, an incident is open, and an email subscriber and a webhook
subscriber are told once; the service comes back → 3 good checks resolve the incident, and
each is told once more."""

import itertools
import json
import os
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis as redis_client
from django.db import connection
from django.utils import timezone

from incidents import alerts, monitors, tasks
from incidents.models import Incident, Monitor
from status.models import ComponentStatus
from tests.factories import make_subscriber
from tests.notifications.servers import Receiver, SmtpSink, Worker, broker, database_url, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

redis_databases = itertools.count(7)


class Service:
    """The monitored HTTP service on a fixed loopback port: down() closes its socket
    (connection refused), up() listens again on the same port."""

    def __init__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = None
        self.up()

    def up(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        self.server.shutdown()
        self.server.server_close()
        self.server = None


@pytest.fixture
def parts(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    sink, receiver, service = SmtpSink().start(), Receiver().start(), Service()
    base = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0]
    redis_url = f"{base}/{next(redis_databases) % 16}"
    redis_client.Redis.from_url(redis_url).flushdb()
    worker = Worker(database_url=database_url(connection.settings_dict), redis_url=redis_url,
                    smtp_url=sink.url).start()  # fmt: skip
    yield sink, receiver, service, redis_url
    worker.stop()
    sink.stop()
    receiver.stop()
    if service.server is not None:
        service.down()


def test_a_service_going_down_and_coming_back_opens_and_resolves_an_incident(page, api, parts):
    sink, receiver, service, redis_url = parts
    make_subscriber(page, "reader@example.com")
    make_subscriber(page, receiver.url("/hook"))
    monitor = monitors.create(page, kind="http", name="API health", component=api,
                              url=f"http://127.0.0.1:{service.port}/health",
                              open_incident=True)  # fmt: skip
    assert monitor.failures_to_trip == 3 and monitor.hold_down_seconds == 120

    def scheduled_check():
        """Beat's scheduler task at the monitor's due time; the worker runs the check."""
        checked = Monitor.objects.get(pk=monitor.pk)
        results = checked.results.count()
        with broker(redis_url):
            claimed = monitors.schedule_due(send=tasks.run_monitor_checks.delay,
                                            now=checked.next_due_at)  # fmt: skip
        assert claimed == {"claimed": 1, "skipped": 0}
        wait_for(lambda: checked.results.count() > results, message="the check's result")
        return Monitor.objects.get(pk=monitor.pk)

    assert scheduled_check().last_ok is True
    service.down()
    scheduled_check()
    scheduled_check()
    api.refresh_from_db()
    assert api.status == ComponentStatus.OPERATIONAL and not Incident.objects.exists()
    checked = scheduled_check()
    assert checked.state == "down" and checked.last_ok is False
    # Held down for 2 minutes from the first failure: the page does not move yet.
    api.refresh_from_db()
    assert api.status == ComponentStatus.OPERATIONAL
    with broker(redis_url):
        assert alerts.promote_due(now=timezone.now() + timedelta(seconds=121)) == 1
    api.refresh_from_db()
    assert api.status == ComponentStatus.MAJOR_OUTAGE
    incident = Incident.objects.get(page=page)
    assert incident.name == "API health is down" and incident.status == "investigating"

    wait_for(lambda: sink.count() == 1 and receiver.count() == 1, message="one of each")
    time.sleep(2)  # nothing more comes
    assert sink.count() == 1 and receiver.count() == 1
    assert "API health is down" in sink.parsed()[0]["Subject"]
    body = json.loads(receiver.to("/hook")[0][1])
    assert body["incident"]["status"] == "investigating"

    service.up()
    scheduled_check()
    scheduled_check()
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert scheduled_check().state == "up"
    incident.refresh_from_db()
    api.refresh_from_db()
    assert incident.status == "resolved" and api.status == ComponentStatus.OPERATIONAL

    wait_for(lambda: sink.count() == 2 and receiver.count() == 2, message="one more of each")
    time.sleep(2)
    assert sink.count() == 2 and receiver.count() == 2
    assert json.loads(receiver.to("/hook")[1][1])["incident"]["status"] == "resolved"
    assert monitor.results.count() == 7
