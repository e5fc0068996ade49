"""What built-in monitors cost, on throwaway PostgreSQL and Redis with a real Celery worker and
the scheduler.

    .venv/bin/python -m bench.monitors [--monitors 1000] [--minutes 3] [--concurrency 2]

1,000 HTTP monitors at a 1-minute interval, their due times spread over the minute, call a local
HTTP server (a thread of this process, answering 200 at once). `manage.py run_scheduler` runs
the beat schedule (the monitor scheduler every 5 s sends the due checks in batches) and one
Celery worker (prefork, 2 processes) runs the checks and records them (a result row each, the
response time into the monitor's metric with its minute, hour and day roll-ups).

Measured over the run, after a minute of warm-up:
- CPU: the user + system time of the scheduler process and of the worker and its pool
  processes, divided by the wall time: the share of one core that scheduling and recording
  cost (the HTTP server's time is this process's and not counted). Target: under 15 %.
- Delay: from each check's due time to its start (MonitorResult.at − due_at), p50/p99/max.
  Target: p99 under 5 s.
The run is shortened to --minutes (3 by default) of due times rather than an hour; each
monitor is due once a minute, so that is 3,000 checks.

Everything listens on 127.0.0.1 and is stopped at the end. Exits 1 when checks went missing,
not when a target is missed: this measures, it does not test.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import django_on_services, logger, running

CPU_TARGET, DELAY_TARGET = 0.15, 5.0
WARM_UP = 60


log = logger("bench")


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.monitors")
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--without-metric",
        action="store_true",
        help="detach the monitors' response time metrics first: what the roll-ups cost",
    )
    args = parser.parse_args(argv)
    with django_on_services(
        SITE_URL="https://status.example.com", WEBHOOKS_ALLOW_PRIVATE_IPS="true"
    ) as services:
        if services is None:
            return 1
        return run(args, *services)


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Quiet(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients closing kept-alive connections


def cpu_seconds(root_pids):
    """User + system CPU seconds of these processes and all their descendants (from /proc)."""
    children, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, list(root_pids)
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(args, database_url, redis_url):
    from datetime import timedelta

    from django.utils import timezone

    from incidents import monitors
    from incidents.models import Monitor, MonitorResult
    from status.models import Component, Page, Tenant
    from tests.notifications.servers import Worker

    server = Quiet(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"

    tenant = Tenant.objects.create(name="Bench", slug="bench", trusted=True)
    page = Page.objects.create(tenant=tenant, name="Bench", slug="bench", visibility="public")
    components = [Component.objects.create(page=page, name=f"Service {n}") for n in range(10)]
    log(f"creating {args.monitors} HTTP monitors")
    made = time.monotonic()
    for n in range(args.monitors):
        monitors.create(page, kind="http", name=f"Check {n}", url=url,
                        component=components[n % len(components)], interval_seconds=60,
                        timeout_seconds=10)  # fmt: skip
    log(f"created in {time.monotonic() - made:.1f} s")
    if args.without_metric:
        Monitor.objects.update(metric=None)
    # Due times spread over the minute from a little after the processes are up.
    start = timezone.now() + timedelta(seconds=15)
    ids = list(Monitor.objects.order_by("id").values_list("id", flat=True))
    for n, monitor_id in enumerate(ids):
        Monitor.objects.filter(pk=monitor_id).update(
            next_due_at=start + timedelta(seconds=60 * n / len(ids))
        )

    worker = Worker(database_url=database_url, redis_url=redis_url, smtp_url="smtp://127.0.0.1:1",
                    concurrency=args.concurrency,
                    env={"DEBUG": "false", "SECURE_SSL_REDIRECT": "false"}).start()  # fmt: skip
    started = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-monitors-") as tmp,
            running(
                "the scheduler",
                [sys.executable, "manage.py", "run_scheduler"],
                Path(tmp) / "scheduler.log",
                # It says nothing when ready: up and still running after a second will do
                # (running() reports its log if it exits before).
                lambda _logfile: time.monotonic() - started > 1,
            ) as scheduler,
        ):
            warm_until = start + timedelta(seconds=WARM_UP)
            end = warm_until + timedelta(minutes=args.minutes)
            wait_until(warm_until)
            roots = [scheduler.pid, worker.process.pid]
            cpu_before, wall_before = cpu_seconds(roots), time.monotonic()
            log(f"measuring {args.minutes:g} min of due times")
            wait_until(end)
            cpu = cpu_seconds(roots) - cpu_before
            wall = time.monotonic() - wall_before
            # The checks due before `end` get a few seconds to start.
            time.sleep(10)
            results = list(
                MonitorResult.objects.filter(due_at__gte=warm_until, due_at__lt=end).values_list(
                    "at", "due_at", "ok"
                )
            )
    finally:
        worker.stop()
        server.shutdown()
    expected = round(args.minutes * len(ids))
    delays = [(at - due).total_seconds() for at, due, _ok in results]
    failed = sum(1 for *_, ok in results if not ok)
    skipped = sum(Monitor.objects.values_list("skipped_checks", flat=True))
    share = cpu / wall
    print()
    print(
        f"{len(ids)} HTTP monitors, 1-minute interval, {args.minutes:g} min measured after"
        f" {WARM_UP} s of warm-up; scheduler + 1 worker ({args.concurrency} processes)"
        + (", response times NOT recorded into metrics" if args.without_metric else "")
    )
    print(f"  checks recorded: {len(results)} of {expected} due ({failed} failed, {skipped}"
          " skipped as overrunning)")  # fmt: skip
    print(f"  CPU of scheduling + recording: {cpu:.1f} s over {wall:.1f} s = {share:.1%} of one"
          f" core (target < {CPU_TARGET:.0%})")  # fmt: skip
    if delays:
        print(f"  delay from due time to check start: p50 {percentile(delays, 0.5):.2f} s, p99"
              f" {percentile(delays, 0.99):.2f} s, max {max(delays):.2f} s"
              f" (target p99 < {DELAY_TARGET:g} s)")  # fmt: skip
    return 0 if len(results) >= expected * 0.99 else 1


def wait_until(moment):
    from django.utils import timezone

    while (left := (moment - timezone.now()).total_seconds()) > 0:
        time.sleep(min(left, 5))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
