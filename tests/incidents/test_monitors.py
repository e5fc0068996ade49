"""Built-in monitors against real local services on 127.0.0.1 (a threaded HTTP server, a TCP
listener): failures in a row set the component through the monitor's alert, successes bring it
back; latency threshold, keyword, expected status range, TCP, heartbeats, overrun checks,
private addresses and pruning."""

import io
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from incidents import monitors
from incidents.models import Incident, Monitor, MonitorResult
from status.models import AuditLogEntry, ComponentStatus, ComponentStatusChange


class Service:
    """An HTTP service on a fixed loopback port that can go down (its socket closed: connection
    refused) and come back on the same port. Answers `status` with `body` after `delay`."""

    def __init__(self):
        self.status, self.body, self.delay = 200, b"all good", 0.0
        self.hits = 0
        self.server = None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.up()

    def up(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                service.hits += 1
                if service.delay:
                    time.sleep(service.delay)
                self.send_response(service.status)
                if 300 <= service.status < 400:
                    self.send_header("Location", "http://127.0.0.1:1/")
                self.send_header("Content-Length", str(len(service.body)))
                self.end_headers()
                self.wfile.write(service.body)

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def url(self, path="/health"):
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def service():
    server = Service()
    yield server
    if server.server is not None:
        server.down()


@pytest.fixture(autouse=True)
def _private_allowed(settings):
    # The services run on loopback; the refusal is tested with the setting off below.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def http_monitor(page, component, url, **fields):
    fields = {"kind": "http", "name": "API health", "url": url, "component": component,
              "hold_down_seconds": 0, **fields}  # fmt: skip
    return monitors.create(page, **fields)


def check(monitor, times=1):
    """Run the monitor's check `times`, as the scheduler and a worker would; the monitor as
    stored afterwards."""
    for _ in range(times):
        monitors.run_batch([(monitor.id, timezone.now().isoformat())])
    return Monitor.objects.get(pk=monitor.pk)


def status_of(component):
    component.refresh_from_db()
    return component.status


def test_three_failed_checks_set_the_component_and_three_good_ones_bring_it_back(
    page, api, service
):
    monitor = http_monitor(page, api, service.url())
    assert check(monitor).last_ok is True
    service.down()
    check(monitor, 2)
    assert status_of(api) == ComponentStatus.OPERATIONAL  # two failures: not yet
    monitor = check(monitor)
    assert monitor.state == "down" and "ConnectionError" in monitor.last_error
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    service.up()
    check(monitor, 2)
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert check(monitor).state == "up"
    assert status_of(api) == ComponentStatus.OPERATIONAL
    statuses = ComponentStatusChange.objects.filter(component=api).order_by("started_at", "id")
    assert [c.status for c in statuses] == ["operational", "major_outage", "operational"]
    assert monitor.results.count() == 7
    # The audit log names the monitor as who did it.
    entry = AuditLogEntry.objects.filter(action="component.status").latest("id")
    assert entry.actor_label == "Monitor: API health"


def test_a_slow_answer_over_the_threshold_degrades_and_fast_ones_restore(page, api, service):
    monitor = http_monitor(page, api, service.url(), latency_threshold_ms=150)
    service.delay = 0.3
    monitor = check(monitor, 3)
    assert monitor.last_ok is True and monitor.last_latency_ms >= 150
    assert monitor.state == "degraded"
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE
    service.delay = 0
    check(monitor, 3)
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_a_missing_keyword_and_an_unexpected_status_are_failures(page, api, website, service):
    keyword = http_monitor(page, api, service.url(), keyword="all good", failures_to_trip=1)
    assert check(keyword).last_ok is True
    service.body = b"maintenance page"
    keyword = check(keyword)
    assert keyword.last_ok is False and "keyword" in keyword.last_error
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE

    ranged = http_monitor(page, website, service.url(), name="Website", failures_to_trip=1,
                          expected_status_min=200, expected_status_max=204,
                          status_on_failure="partial_outage")  # fmt: skip
    service.status = 301  # a redirect is not followed: it is its status that counts
    ranged = check(ranged)
    assert ranged.last_ok is False and "HTTP 301" in ranged.last_error
    assert service.hits == 3  # the redirect's target was not asked
    assert status_of(website) == ComponentStatus.PARTIAL_OUTAGE
    ranged = monitors.edit(ranged, by=None, expected_status_max=399)
    assert check(ranged).last_ok is True


def test_tcp_monitors_connect_to_the_port(page, api):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    monitor = monitors.create(page, kind="tcp", name="Database", host="127.0.0.1", port=port,
                              component=api, hold_down_seconds=0, failures_to_trip=2)  # fmt: skip
    assert check(monitor).last_ok is True
    listener.close()
    monitor = check(monitor, 2)
    assert monitor.last_ok is False and monitor.state == "down"
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_a_late_heartbeat_is_down_and_a_ping_brings_it_back(client, page, api):
    monitor = monitors.create(page, kind="heartbeat", name="Nightly backup", component=api,
                              heartbeat_period_seconds=3600, heartbeat_grace_seconds=600,
                              hold_down_seconds=0)  # fmt: skip
    response = client.get(f"/ping/{monitor.ping_token}")
    assert response.status_code == 200 and response.content == b"OK"
    assert client.head(f"/ping/{monitor.ping_token}").status_code == 200
    assert client.post(f"/ping/{monitor.ping_token}").status_code == 200
    assert client.get("/ping/not-a-token").status_code == 404
    monitor.refresh_from_db()
    due = monitor.next_due_at
    assert due - monitor.last_ping_at == timedelta(seconds=4200)

    sent = []
    # Not due before period + grace.
    assert monitors.schedule_due(send=sent.append, now=due - timedelta(seconds=1)) == {
        "claimed": 0, "skipped": 0}  # fmt: skip
    with time_machine.travel(due + timedelta(seconds=1)):
        with_commit = monitors.schedule_due(send=sent.append)
        assert with_commit["claimed"] == 1
        monitors.run_batch([(monitor.id, due.isoformat())])
        assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
        assert "No ping since" in Monitor.objects.get(pk=monitor.pk).last_error
        assert client.get(f"/ping/{monitor.ping_token}").status_code == 200
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_an_overrunning_check_is_skipped_not_queued_twice(
    page, api, service, django_capture_on_commit_callbacks
):
    monitor = http_monitor(page, api, service.url(), interval_seconds=30, timeout_seconds=5)
    sent = []
    first_due = monitor.next_due_at
    start = timezone.now()
    with (
        time_machine.travel(start, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert monitors.schedule_due(send=sent.extend) == {"claimed": 1, "skipped": 0}
    # The check has not finished (no worker ran it) when the next one is due, 30 s later.
    later = start + timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        assert monitors.schedule_due(send=sent.extend) == {"claimed": 0, "skipped": 1}
    monitor.refresh_from_db()
    assert len(sent) == 1 and monitor.skipped_checks == 1
    assert monitor.next_due_at == first_due + timedelta(seconds=60)
    # Past its lease (2 × timeout + 5 s for the check, 55 s more) it is taken as lost, and
    # sent again.
    with time_machine.travel(start + timedelta(seconds=91), tick=False):
        assert monitors.schedule_due(send=sent.extend)["claimed"] == 1


def test_private_addresses_are_refused_unless_allowed(settings, page, api, service):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    with pytest.raises(ValidationError, match="private, loopback"):
        http_monitor(page, api, service.url())
    with pytest.raises(ValidationError, match="private, loopback"):
        monitors.create(page, kind="tcp", name="DB", host="127.0.0.1", port=service.port,
                        component=api)  # fmt: skip
    assert not Monitor.objects.exists()
    # Saved while allowed, checked when not: refused at connect time.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    monitor = http_monitor(page, api, service.url())
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    monitor = check(monitor)
    assert monitor.last_ok is False and monitor.last_error.startswith("Refused")
    assert service.hits == 0


def test_old_results_are_pruned(settings, page, api, service):
    settings.MONITOR_RESULTS_RETENTION_DAYS = 7
    monitor = http_monitor(page, api, service.url())
    with time_machine.travel(timezone.now() - timedelta(days=8)):
        check(monitor, 2)
    check(monitor)
    assert monitors.prune_results() == 2
    assert list(MonitorResult.objects.values_list("ok", flat=True)) == [True]


def test_open_incident_opens_and_resolves_it(page, api, service):
    monitor = http_monitor(page, api, service.url(), open_incident=True, failures_to_trip=1,
                           successes_to_recover=1)  # fmt: skip
    service.status = 500
    check(monitor)
    incident = Incident.objects.get(page=page)
    assert incident.name == "API health is down" and incident.status == "investigating"
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    service.status = 200
    check(monitor)
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_pausing_or_deleting_a_failing_monitor_gives_the_component_back(page, api, service):
    monitor = http_monitor(page, api, service.url(), failures_to_trip=1)
    service.status = 503
    check(monitor)
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    monitor = monitors.edit(Monitor.objects.get(pk=monitor.pk), by=None, enabled=False)
    assert monitor.state == "paused" and monitor.next_due_at is None
    assert status_of(api) == ComponentStatus.OPERATIONAL
    monitor = monitors.edit(monitor, by=None, enabled=True)
    check(monitor)
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    monitors.remove(Monitor.objects.get(pk=monitor.pk), by=None)
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert not Monitor.objects.exists() and not page.integrations.exists()


def test_a_batch_runs_its_checks_together_and_records_each(page, api, website, service):
    made = [
        http_monitor(page, component, service.url(f"/{n}"), name=f"Check {n}")
        for n, component in enumerate([api, website, api])
    ]
    service.status = 500
    due = timezone.now()
    assert monitors.run_batch([(m.id, due.isoformat()) for m in made]) == 3
    for monitor in made:
        result = monitor.results.get()
        assert result.ok is False and result.status_code == 500 and result.due_at == due


def test_the_embedded_scheduler_runs_due_checks_and_rolls_up_response_times(
    page, api, service, django_capture_on_commit_callbacks
):
    monitor = http_monitor(page, api, service.url())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_scheduler", "--once", stdout=io.StringIO())
    monitor.refresh_from_db()
    assert monitor.last_ok is True and service.hits == 1
    result = monitor.results.get()
    assert result.due_at is not None and result.at >= result.due_at
    rollups = {r.period: r for r in monitor.metric.rollups.all()}
    assert {"minute", "hour", "day"} <= set(rollups)
    assert rollups["minute"].count == 1
    assert rollups["minute"].maximum == pytest.approx(result.latency_ms, abs=0.001)


@pytest.mark.parametrize(
    ("address", "public"),
    [("93.184.215.14", True), ("2606:4700::1", True), ("127.0.0.1", False),
     ("169.254.169.254", False), ("100.100.100.200", False), ("10.0.0.1", False),
     ("::ffff:127.0.0.1", False), ("::127.0.0.1", False), ("fec0::1", False),
     ("fd00:ec2::254", False), ("64:ff9b::7f00:1", False), ("224.0.0.1", False)],
)  # fmt: skip
def test_which_addresses_monitors_call(address, public):
    assert monitors.is_public_address(address) is public


def test_a_server_trickling_its_answer_fails_the_check_at_its_deadline(page, api):
    """Each read gets a byte before the timeout, so no socket timeout ever fires: the batch
    still ends at the check's deadline (2 × timeout + 5 s) and records a failure."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.3):
                try:
                    connection.sendall(b"X")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    monitor = http_monitor(page, api, url, timeout_seconds=1, failures_to_trip=1)
    started = time.monotonic()
    try:
        monitor = check(monitor)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 2 * 1 + 5 + 3
    result = monitor.results.get()
    assert result.ok is False and "did not finish within 7 s" in result.error
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_a_check_that_ends_after_its_monitor_was_paused_changes_nothing(page, api, service):
    monitor = http_monitor(page, api, service.url(), failures_to_trip=1)
    as_read_by_the_batch = Monitor.objects.get(pk=monitor.pk)
    monitors.edit(Monitor.objects.get(pk=monitor.pk), by=None, enabled=False)
    monitors.record_batch(
        [(as_read_by_the_batch, monitors.Outcome(False, error="HTTP 503"), timezone.now(), None)]
    )
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert not MonitorResult.objects.exists()
    assert Monitor.objects.get(pk=monitor.pk).state == "paused"
